"""Helpers of the browser tests: the browsers stood for, the pages' words in each language,
the checks run on every page, and signing up through the form.

Fixtures live in ``conftest.py``; everything a test module imports by name lives here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_date
from babel.support import Translations
from werkzeug.serving import WSGIRequestHandler

ROOT = Path(__file__).resolve().parents[2]
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-output" / "screenshots"
TRANSLATIONS = ROOT / "feedsvc" / "translations"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery"
# The served app's key: the tests make action-link tokens with it.
E2E_SECRET_KEY = "e2e-secret-key-not-for-production"

# Every wait is bounded, so a page that never answers fails the test instead of hanging CI.
ACTION_TIMEOUT_MS = 15_000
NAVIGATION_TIMEOUT_MS = 30_000
LAUNCH_TIMEOUT_MS = 60_000

WIDTHS = ("360", "1280")
LANGUAGES = ("zh", "en")

# The browsers we stand for: a phone held upright, and a laptop.
VIEWPORTS: dict[str, dict[str, Any]] = {
    "360": {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True,
            "device_scale_factor": 2},
    "1280": {"viewport": {"width": 1280, "height": 900}},
}
# A Chinese browser in China and an English one in London: the page language and the time
# zone proposed at sign-up come from them.
BROWSER_LOCALES: dict[str, dict[str, Any]] = {
    "zh": {"locale": "zh-CN", "timezone_id": "Asia/Shanghai"},
    "en": {"locale": "en-GB", "timezone_id": "Europe/London"},
}
HTML_LANG = {"zh": "zh-Hans", "en": "en"}

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = ("serious", "critical")


def browser_required() -> bool:
    """Whether a missing browser is a failure rather than a reason to skip."""
    return os.environ.get("FEEDSVC_REQUIRE_BROWSER", "") == "1"


def unavailable(reason: str) -> None:
    """Skip the test for ``reason``, or fail it when the browser tests are required."""
    if browser_required():
        pytest.fail(f"{reason} (FEEDSVC_REQUIRE_BROWSER=1 requires the browser tests)",
                    pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}")


def chromium_path() -> str:
    """The Chromium to drive: ``FEEDSVC_CHROMIUM``, else Debian's."""
    return os.environ.get("FEEDSVC_CHROMIUM") or DEFAULT_CHROMIUM


class QuietHandler(WSGIRequestHandler):
    """No access log: pytest shows the test's own output, not a line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class Words:
    """The pages' words in one language: ``t("Log in")`` is what a reader of it sees."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._catalog = (Translations.load(str(TRANSLATIONS), ["zh_Hans"]) if lang == "zh"
                         else None)

    def __call__(self, text: str, **values: Any) -> str:
        if self._catalog is None:
            translated = text
        else:
            translated = self._catalog.gettext(text)
            assert translated != text, f"no Chinese for {text!r}"
        return translated % values if values else translated

    def day(self, value: date) -> str:
        """A date as the pages write it ("Dec 5, 2026", "2026年12月5日")."""
        return format_date(value, "medium", locale="zh_Hans" if self.lang == "zh" else "en")

    def n(self, singular: str, plural: str, num: int, **values: Any) -> str:
        """The plural form for ``num`` (Chinese has one form)."""
        if self._catalog is None:
            return (singular if num == 1 else plural) % {"num": num, **values}
        return self._catalog.ngettext(singular, plural, num) % {"num": num, **values}


# ---- Checks run on every page -------------------------------------------------------------

OVERFLOW_SCRIPT = """() => {
  const root = document.documentElement;
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > root.clientWidth + 0.5) {
      const classes = typeof el.className === 'string' ? el.className.trim() : '';
      wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                (classes ? '.' + classes.split(/\\s+/).join('.') : '') +
                ' right=' + Math.round(box.right));
    }
  }
  return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, wide: wide.slice(0, 8)};
}"""

# Controls a finger must hit at phone width. A link inside a sentence is exempt, as in
# WCAG 2.5.5 ("inline"); a checkbox counts with its label, which is the bigger target.
TAP_TARGET_SCRIPT = """(minimum) => {
  const small = [];
  const visible = (el) => {
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return box.width > 0 && box.height > 0 && style.visibility !== 'hidden' &&
           !el.closest('.visually-hidden') && box.bottom > 0 && box.right > 0;
  };
  const inSentence = (a) => {
    const parent = a.parentElement;
    return parent && parent.textContent.trim() !== a.textContent.trim() &&
           getComputedStyle(a).display === 'inline';
  };
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    ' "' + (el.textContent || el.value || el.name || '').trim().slice(0, 40) + '"';
  for (const el of document.querySelectorAll('a[href], button, input, select, textarea, summary')) {
    if (el.type === 'hidden' || !visible(el)) continue;
    if (el.matches('a') && inSentence(el)) continue;
    let box = el.getBoundingClientRect();
    if (el.type === 'checkbox' || el.type === 'radio') {
      const label = el.labels && el.labels[0];
      if (!label) { small.push(describe(el) + ' has no label'); continue; }
      box = label.getBoundingClientRect();
    }
    if (box.height < minimum - 0.5) {
      small.push(describe(el) + ' ' + Math.round(box.width) + 'x' + Math.round(box.height));
    }
  }
  return small;
}"""

# axe files a contrast it measured but doubts (text the colour of its background, say) under
# "incomplete"; a measured ratio below the one required counts as a violation all the same.
AXE_RUN_SCRIPT = """async (tags) => {
  const results = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
  const nodes = (v) => v.nodes.map((n) => ({target: n.target.join(' '),
                                           summary: n.failureSummary}));
  const found = results.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
                                                nodes: nodes(v)}));
  for (const v of results.incomplete) {
    if (v.id !== 'color-contrast') continue;
    const low = v.nodes.filter((n) => n.any.some((check) => check.data &&
      check.data.contrastRatio > 0 &&
      check.data.contrastRatio < parseFloat(check.data.expectedContrastRatio)));
    if (low.length) {
      found.push({id: 'color-contrast', impact: v.impact,
                  help: v.help + ' (measured, filed by axe as needing review)',
                  nodes: low.map((n) => ({target: n.target.join(' '),
                    summary: n.any.map((check) => check.message).join('; ')}))});
    }
  }
  return found;
}"""


@dataclass
class PageAudit:
    """What the checks found on the pages one test visited, reported all at once at the end."""

    width: str
    lang: str
    axe_source: str | None = None
    problems: list[str] = field(default_factory=list)
    axe_findings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    shots: list[Path] = field(default_factory=list)

    def check(self, page: Any, name: str) -> None:
        """Screenshot the page and run every check on it (axe only when given its script)."""
        page.wait_for_load_state("load")
        self.check_layout(page, name)
        self.screenshot(page, name)
        if self.axe_source is not None:
            self.run_axe(page, name)

    def check_layout(self, page: Any, name: str) -> None:
        """No sideways scrolling; at phone width, tap targets of at least 44 px."""
        found = page.evaluate(OVERFLOW_SCRIPT)
        if found["scrollWidth"] > found["clientWidth"]:
            self.problems.append(
                f"{name}: scrolls sideways ({found['scrollWidth']} > {found['clientWidth']} px):"
                f" {', '.join(found['wide'])}")
        if self.width == "360":
            for control in page.evaluate(TAP_TARGET_SCRIPT, 44):
                self.problems.append(f"{name}: tap target under 44 px: {control}")

    def screenshot(self, page: Any, name: str) -> Path:
        """A full-page PNG under test-output/screenshots/<width>/<lang>-<name>.png."""
        path = SCREENSHOTS / self.width / f"{self.lang}-{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
        self.shots.append(path)
        return path

    def run_axe(self, page: Any, name: str) -> None:
        """axe-core with the WCAG 2.1 A and AA rules; serious and critical findings count.

        The script goes in through the DevTools protocol, which the page's
        Content-Security-Policy (no inline scripts) does not govern.
        """
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(self.axe_source)
        violations = page.evaluate(AXE_RUN_SCRIPT, AXE_TAGS)
        self.axe_findings[name] = violations
        for violation in violations:
            if violation["impact"] in BLOCKING_IMPACTS:
                for node in violation["nodes"]:
                    self.problems.append(
                        f"{name}: axe {violation['id']} ({violation['impact']}): "
                        f"{violation['help']}\n    at {node['target']}\n    "
                        + node["summary"].replace("\n", "\n    "))

    def assert_clean(self) -> None:
        """Fail with every problem found, page by page."""
        report = SCREENSHOTS.parent / "axe" / f"{self.width}-{self.lang}.json"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(self.axe_findings, indent=2, ensure_ascii=False))
        if self.problems:
            pytest.fail(f"{len(self.problems)} problem(s) at {self.width} px, {self.lang}:\n"
                        + "\n".join(self.problems), pytrace=False)


def sign_up(page: Any, t: Words, email: str) -> None:
    """Create an account through the sign-up form and log in with it, as sign-up asks;
    ends on the (empty) item list."""
    page.goto("/signup")
    page.get_by_label(t("E-mail address")).fill(email)
    page.get_by_label(t("Password"), exact=True).fill(PASSWORD)
    page.get_by_label(t("Password again")).fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name=t("Create account")).click()
    assert page.url.endswith("/login"), page.url
    page.get_by_label(t("E-mail address")).fill(email)
    page.get_by_label(t("Password")).fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name=t("Log in")).click()
    assert page.url.endswith("/"), page.url
