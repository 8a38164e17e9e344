"""Keyboard users see where they are: every control reached with Tab draws a focus ring."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.helpers import Words, sign_up

pytestmark = pytest.mark.e2e

# What the focused element looks like: a ring is an outline of 2 px or more, or a shadow.
FOCUS_SCRIPT = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  return {
    control: el.tagName.toLowerCase() + (el.type ? '[type=' + el.type + ']' : '') +
             (el.id ? '#' + el.id : '') + ' "' + (el.textContent || '').trim().slice(0, 30) + '"',
    key: el.id || el.name || el.outerHTML.slice(0, 80),
    type: el.type || '',
    ring: el.matches(':focus-visible') &&
          ((style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2) ||
           style.boxShadow !== 'none'),
  };
}"""


@pytest.mark.parametrize("path", ["/items/new", "/calendars", "/settings"])
def test_every_control_shows_a_focus_ring(new_context: Any, path: str) -> None:
    t = Words("en")
    page = new_context("1280", "en").new_page()
    sign_up(page, t, f"focus-{path.strip('/').replace('/', '-')}@example.com")
    page.goto(path)
    seen: dict[str, dict[str, Any]] = {}
    # Date and time inputs take several Tabs (one per part), so allow more than one a control.
    for _ in range(300):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_SCRIPT)
        if focused is None or (seen and focused["key"] == next(iter(seen))):
            break
        seen.setdefault(focused["key"], focused)
    assert len(seen) > 5, seen
    if path == "/items/new":
        assert {"date", "time", "checkbox", "select-one", "textarea"} <= {
            focused["type"] for focused in seen.values()}
    bare = [focused["control"] for focused in seen.values() if not focused["ring"]]
    assert not bare, f"no visible focus on: {bare}"
