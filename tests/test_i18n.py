"""Two languages: every string translated, chosen per reader, switched and stored."""

from __future__ import annotations

import ast
import builtins
import datetime as dt
import io
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from jinja2 import Environment
from sqlalchemy import update

from feedsvc.db import new_session
from feedsvc.errors import FeedsvcError
from feedsvc.models import ApiToken
from feedsvc.web.i18n import format_day, format_timestamp, time_element

from helpers import Api, Browser, make_user, signed_in

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "feedsvc"
CATALOG = PACKAGE / "translations" / "zh_Hans" / "LC_MESSAGES"
TEMPLATES = PACKAGE / "templates"
METHOD_MAP = [("**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "N_": None}


def _extracted() -> set[str | tuple[str, ...]]:
    found: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(PACKAGE), METHOD_MAP, keywords=KEYWORDS,
            options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}}):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def _catalog() -> Any:
    with open(CATALOG / "messages.po", "rb") as po:
        return read_po(po, locale="zh_Hans")


def untranslated(extracted: set[str | tuple[str, ...]], catalog: Catalog) -> list[Any]:
    """The extracted msgids that the catalog lacks, leaves empty or marks fuzzy."""
    missing = []
    for msgid in extracted:
        key = msgid[0] if isinstance(msgid, tuple) else msgid
        message = catalog.get(key)
        strings = () if message is None else (
            message.string if isinstance(message.string, tuple) else (message.string,))
        if message is None or not all(strings) or message.fuzzy:
            missing.append(msgid)
    return missing


def test_every_string_has_a_chinese_translation() -> None:
    extracted = _extracted()
    assert len(extracted) > 300
    missing = untranslated(extracted, _catalog())
    assert not missing, f"translate these in {CATALOG / 'messages.po'}: {missing}"


def test_a_missing_empty_or_fuzzy_translation_is_caught() -> None:
    catalog = Catalog(locale="zh_Hans")
    catalog.add("Save", "保存")
    catalog.add("Cancel", "")
    catalog.add("Delete", "删除", flags=["fuzzy"])
    catalog.add(("%(num)d day", "%(num)d days"), ("%(num)d 天",))
    catalog.add(("%(num)d week", "%(num)d weeks"), ("",))
    extracted = {"Save", "Cancel", "Delete", "Renew", ("%(num)d day", "%(num)d days"),
                 ("%(num)d week", "%(num)d weeks")}
    assert sorted(map(str, untranslated(extracted, catalog))) == sorted(map(str, [
        "Cancel", "Delete", "Renew", ("%(num)d week", "%(num)d weeks")]))


# Text a template may show as it is, in every language, and why.
ALLOWED_TEXT = {
    "feedsvc": "the service's name",
    "English": "the language switch names each language in itself",
    "简体中文": "the language switch names each language in itself",
    "Authorization: Bearer <token>": "an HTTP header, to be typed as it is",
}
# Attributes whose value is read or heard: tooltips, alternatives, labels, and the texts
# app.js shows after copying.
VISIBLE_ATTRIBUTES = {"alt", "title", "placeholder", "aria-label", "data-copied",
                      "data-selected"}
# Macros that return part of a tag (an id, attributes) rather than text of the page.
ATTRIBUTE_MACROS = {"control_id", "aria"}
LETTER = re.compile(r"[^\W\d_]")
TAG = "\x1f"  # stands in for each Jinja tag: no letter, and no meaning to the HTML parser


class _TextFinder(HTMLParser):
    """Collects the text nodes and visible attribute values of a page, outside scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        buttonlike = tag == "input" and dict(attrs).get("type") in ("submit", "button", "reset")
        for name, value in attrs:
            if value and (name in VISIBLE_ATTRIBUTES or (buttonlike and name == "value")):
                self.found.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.found.append(data)


def _page_data(source: str) -> str:
    """The template's own HTML, each Jinja tag replaced by ``TAG``, attribute macros left out."""
    pieces: list[str] = []
    words: list[str] = []  # the names that open the current ``{% %}`` tag
    skipping = False
    for _line, kind, value in Environment(extensions=["jinja2.ext.i18n"]).lex(source):
        if kind == "block_begin":
            words = []
        elif kind == "name" and len(words) < 2:
            words.append(value)
            if words == ["endmacro"]:
                skipping = False
            elif len(words) == 2 and words[0] == "macro":
                skipping = words[1] in ATTRIBUTE_MACROS
        if kind == "data" and not skipping:
            pieces.append(value)
        elif kind != "data" and (not pieces or pieces[-1] != TAG):
            pieces.append(TAG)
    return "".join(pieces)


def unmarked_text(source: str) -> list[str]:
    """Visible text in a template that is written out rather than passed through ``_()``.

    Everything inside ``{{ }}``, ``{% %}`` and ``{# #}`` is left out: what a tag prints is
    checked by extraction, when it is a msgid.
    """
    finder = _TextFinder()
    finder.feed(_page_data(source))
    finder.close()
    unmarked = []
    for text in finder.found:
        text = " ".join(text.replace(TAG, " ").split())
        rest = text
        for allowed in ALLOWED_TEXT:
            rest = rest.replace(allowed, " ")
        if LETTER.search(rest):
            unmarked.append(text)
    return unmarked


def test_templates_show_no_text_that_is_not_marked_for_translation() -> None:
    found = {str(path.relative_to(TEMPLATES)): unmarked_text(path.read_text(encoding="utf-8"))
             for path in sorted(TEMPLATES.rglob("*.html"))}
    assert len(found) > 15
    unmarked = {name: texts for name, texts in found.items() if texts}
    assert not unmarked, f"wrap these in {{{{ _(\"…\") }}}}: {unmarked}"


@pytest.mark.parametrize(("source", "expected"), [
    ("<p>Hello {{ name }}</p>", ["Hello"]),
    ("<p>{{ _('Hello') }}, {{ name }}!</p>", []),
    ("{% if late %}<strong>Overdue</strong>{% endif %}", ["Overdue"]),
    ('<img src="{{ url }}" alt="Logo">', ["Logo"]),
    ('<img src="{{ url }}" alt="{{ _(\'Logo\') }}">', []),
    ('<button aria-label="Close">×</button>', ["Close"]),
    ('<input type="submit" value="Send">', ["Send"]),
    ('<input type="hidden" name="next" value="/items">', []),
    ("<p>保号卡</p>", ["保号卡"]),
    ("<p>{# Only a note for whoever edits this. #}{{ count }} · 12:30</p>", []),
    ("<script>const label = 'Copied';</script>", []),
    ("<title>{% block title %}{% endblock %} — feedsvc</title>", []),
    ("<p>feedsvc keeps track</p>", ["feedsvc keeps track"]),
    ('{% macro aria(name) %} aria-invalid="true"{% endmacro %}', []),
    ("{% macro note(name) %}<p>Note for {{ name }}</p>{% endmacro %}", ["Note for"]),
])
def test_unmarked_text_is_found(source: str, expected: list[str]) -> None:
    assert unmarked_text(source) == expected


# Modules whose messages only the JSON API or the command line show, in English.
ENGLISH_ONLY = {"api", "cli.py", "backup.py"}
# Calls whose arguments include a message that a page may show.
MESSAGE_CALLS = {kind.__name__ for kind in FeedsvcError.__subclasses__()} | {
    "FeedsvcError", "error_response", "ImportProblem"}
WORDS = re.compile(r"[^\W\d_].* ")  # a letter, then a space: words, not a code or a name


def _called(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _unmarked_in(node: ast.AST) -> list[str]:
    """Text in an argument that is not inside ``N_()``; a dict's keys are names, not text."""
    if isinstance(node, ast.Call) and _called(node.func) == "N_":
        return []
    if isinstance(node, ast.JoinedStr):
        return [ast.unparse(node)]  # values belong in %(name)s placeholders
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) and WORDS.search(node.value) else []
    children = node.values if isinstance(node, ast.Dict) else ast.iter_child_nodes(node)
    return [text for child in children for text in _unmarked_in(child)]


def unmarked_messages(source: str) -> list[str]:
    """Messages given to an error, an error page, an import problem or a throttle, unmarked.

    Each of those calls, and whatever call is raised (but Python's own exceptions, which
    reach no page), must give its words through ``N_()`` so that the pages translate them.
    """
    tree = ast.parse(source)
    raised = {id(node.exc) for node in ast.walk(tree) if isinstance(node, ast.Raise)}
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _called(node.func)
        if name in MESSAGE_CALLS or (id(node) in raised and not hasattr(builtins, name)):
            arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
        else:
            arguments = [kw.value for kw in node.keywords if kw.arg == "error_message"]
        found.extend(text for argument in arguments for text in _unmarked_in(argument))
    return found


def test_every_message_that_a_page_may_show_is_marked_for_translation() -> None:
    found = {str(path.relative_to(PACKAGE)): unmarked_messages(path.read_text(encoding="utf-8"))
             for path in sorted(PACKAGE.rglob("*.py"))
             if path.relative_to(PACKAGE).parts[0] not in ENGLISH_ONLY}
    assert len(found) > 30
    unmarked = {name: texts for name, texts in found.items() if texts}
    assert not unmarked, f"wrap these in N_(\"…\"), values as %(name)s: {unmarked}"


@pytest.mark.parametrize(("source", "expected"), [
    ('raise NotFound(f"No item {item_id}.")', ["f'No item {item_id}.'"]),
    ('raise NotFound(N_("No item %(id)s."), id=item_id)', []),
    ('raise Conflict("Already taken.", {"email": N_("is already registered")})',
     ["Already taken."]),
    ('raise ValidationFailed(N_("Bad input."), {"email": "must be an address"})',
     ["must be an address"]),
    ('raise ValidationFailed(N_("Too short."), {"password": N_("at least %(n)s") % {"n": 8}})',
     []),
    ('raise _invalid("due_date", "cannot be in the future")', ["cannot be in the future"]),
    ('raise _invalid("due_date", N_("cannot be in the future"))', []),
    ('return ValidationFailed(N_("Invalid."), fields, names=", ".join(names))', []),
    ('error_response(500, "Something went wrong.")', ["Something went wrong."]),
    ('ImportProblem(0, "", "The file is empty.")', ["The file is empty."]),
    ('ImportProblem(0, "auto_renew", N_("must be yes or no"))', []),
    ('limiter.limit("10 per minute", error_message="Too many tries.")', ["Too many tries."]),
    ('limiter.limit("10 per minute", error_message=N_("Too many tries."))', []),
    ('raise ValueError("must not be empty")', []),  # a validator's: see the test below
    ('raise LookupError("the feed appeared between two queries")', []),
])
def test_unmarked_messages_are_found(source: str, expected: list[str]) -> None:
    assert unmarked_messages(source) == expected


def test_every_message_of_the_schemas_validators_is_in_the_catalog() -> None:
    # Pydantic words what a validator raises into a field's message, which the pages look up
    # in the catalog; those with values are matched by feedsvc.web.messages.PATTERNS.
    tree = ast.parse((PACKAGE / "schemas.py").read_text(encoding="utf-8"))
    messages = {node.exc.args[0].value for node in ast.walk(tree)
                if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                and _called(node.exc.func) == "ValueError" and node.exc.args
                and isinstance(node.exc.args[0], ast.Constant)}
    assert len(messages) > 10
    assert not messages - _extracted(), "mark these in feedsvc/web/messages.py's FIXED"


def test_the_catalog_keeps_every_placeholder() -> None:
    import re

    names = re.compile(r"%\((\w+)\)")
    for message in _catalog():
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[-1]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            assert set(names.findall(text)) == set(names.findall(source)), message.id


def _strings(catalog: Any) -> dict[Any, Any]:
    return {str(m.id): str(m.string) for m in catalog if m.id}


def test_the_committed_mo_matches_the_po() -> None:
    compiled = io.BytesIO()
    write_mo(compiled, _catalog())
    compiled.seek(0)
    with open(CATALOG / "messages.mo", "rb") as committed:
        expected = _strings(read_mo(committed))
    assert _strings(read_mo(compiled)) == expected, (
        "compile the .po: pybabel compile -d feedsvc/translations")


@pytest.mark.parametrize("header", ["zh-CN,zh;q=0.9,en;q=0.8", "zh", "zh-Hans", "zh-SG"])
def test_a_chinese_browser_gets_the_sign_up_page_in_chinese(client: FlaskClient,
                                                             header: str) -> None:
    page = client.get("/signup", headers={"Accept-Language": header}).get_data(as_text=True)
    assert '<html lang="zh-Hans">' in page
    assert "创建账号" in page and "Create account" not in page


def test_an_english_or_unknown_browser_gets_english(client: FlaskClient) -> None:
    for header in ("en-US,en;q=0.9", "fr-FR", ""):
        page = client.get("/signup", headers={"Accept-Language": header}).get_data(as_text=True)
        assert '<html lang="en">' in page and "Create account" in page


def test_the_switch_sets_a_cookie_for_a_visitor(client: FlaskClient) -> None:
    page = Browser(client).get("/login")
    token = page.form("/lang/zh-Hans?next=/login").fields["csrf_token"]
    response = client.post("/lang/zh-Hans?next=/login", data={"csrf_token": token})
    assert response.status_code == 302 and response.location == "/login"
    assert '<html lang="zh-Hans">' in client.get("/login").get_data(as_text=True)


def test_the_switch_only_goes_back_to_this_site(client: FlaskClient) -> None:
    token = Browser(client).get("/login").form("/lang/zh-Hans?next=/login").fields["csrf_token"]
    response = client.post("/lang/zh-Hans?next=//evil.example/", data={"csrf_token": token})
    assert response.status_code == 302 and response.location == "/"


def test_the_switch_needs_the_csrf_token(client: FlaskClient) -> None:
    assert client.post("/lang/zh-Hans?next=/login").status_code == 400


def test_the_switch_stores_the_language_in_the_account(
        client: FlaskClient, user: dict[str, Any], api: Api) -> None:
    browser = signed_in(client, user)
    page = browser.get("/settings")
    assert "简体中文" in page.text
    form = page.form("/lang/zh-Hans?next=/settings")
    response = client.post(form.action, data=form.fields)
    assert response.status_code == 302 and response.location == "/settings"
    assert api.get("/api/v1/me").json["locale"] == "zh-Hans"
    assert "保存设置" in browser.get("/settings").text


@pytest.fixture
def chinese(app: Flask, client: FlaskClient) -> tuple[Browser, Api]:
    reader = make_user(app, "reader@example.com", locale="zh-Hans")
    return signed_in(client, reader), Api(client, reader["token"])


def test_a_chinese_account_reads_every_page_in_chinese(chinese: tuple[Browser, Api]) -> None:
    browser, api = chinese
    item = api.post("/api/v1/items", json={"title": "MTS Russia", "due_date": "2030-12-05"}).json
    expected = {"/": "我的项目", f"/items/{item['id']}": "续费记录", "/settings": "保存设置",
                "/calendars": "在日历应用里订阅你的到期日", "/items/new": "添加项目"}
    for path, text in expected.items():
        page = browser.get(path)
        assert page.status == 200 and '<html lang="zh-Hans">' in page.text, path
        assert text in page.text, path
    assert "2030年12月5日" in browser.get("/").text


# (day, as an English page shows it, as a Chinese page shows it)
DAYS = [
    (dt.date(2026, 12, 5), "Dec 5, 2026", "2026年12月5日"),
    (dt.date(2028, 2, 29), "Feb 29, 2028", "2028年2月29日"),
    (dt.date(2027, 1, 1), "Jan 1, 2027", "2027年1月1日"),
    (dt.date(2026, 12, 31), "Dec 31, 2026", "2026年12月31日"),
    (dt.date(2027, 9, 30), "Sep 30, 2027", "2027年9月30日"),
    (dt.date(1900, 1, 1), "Jan 1, 1900", "1900年1月1日"),
    (dt.date(2999, 12, 31), "Dec 31, 2999", "2999年12月31日"),
]


@pytest.mark.parametrize(("locale", "day", "expected"),
                         [("en", day, english) for day, english, _chinese in DAYS]
                         + [("zh_Hans", day, chinese) for day, _english, chinese in DAYS],
                         ids=str)
def test_a_day_reads_in_the_readers_convention(app: Flask, locale: str, day: dt.date,
                                                expected: str) -> None:
    with app.test_request_context(), force_locale(locale):
        assert format_day(day) == expected
        assert time_element(day) == f'<time datetime="{day.isoformat()}">{expected}</time>'


@pytest.mark.parametrize(("locale", "expected"), [
    ("en", "Feb 29, 2028, 11:30\u202fPM"), ("zh_Hans", "2028年2月29日 23:30")])
def test_a_moment_reads_in_the_readers_convention_to_the_minute(
        app: Flask, locale: str, expected: str) -> None:
    moment = dt.datetime(2028, 2, 29, 23, 30, 59, 123456, tzinfo=dt.UTC)
    with app.test_request_context(), force_locale(locale):  # a visitor: UTC
        assert format_timestamp(moment) == expected
        assert time_element(moment) == \
            f'<time datetime="2028-02-29T23:30:59+00:00">{expected}</time>'


def test_a_timestamp_is_shown_in_the_accounts_time_zone(
        app: Flask, client: FlaskClient) -> None:
    reader = make_user(app, "shanghai@example.com", timezone="Asia/Shanghai")
    with app.app_context(), new_session(app) as session:
        session.execute(update(ApiToken).values(
            created_at=dt.datetime(2027, 1, 19, 23, 30, tzinfo=dt.UTC)))
        session.commit()
    browser = signed_in(client, reader)
    page = browser.get("/tokens").text
    assert ('created <time datetime="2027-01-19T23:30:00+00:00">Jan 20, 2027, 7:30\u202fAM'
            "</time>") in page
    form = browser.get("/settings").form("/lang/zh-Hans?next=/settings")
    client.post(form.action, data=form.fields)
    assert "创建于 <time datetime=\"2027-01-19T23:30:00+00:00\">2027年1月20日 07:30</time>" \
        in browser.get("/tokens").text


def test_an_items_due_date_reads_in_each_pages_language(
        client: FlaskClient, user: dict[str, Any], api: Api) -> None:
    item = api.post("/api/v1/items", json={"title": "HK card", "due_date": "2028-02-29"}).json
    browser = signed_in(client, user)
    paths = ("/", f"/items/{item['id']}", f"/items/{item['id']}/renew")
    english = {path: browser.get(path).text for path in paths}
    form = browser.get("/").form("/lang/zh-Hans?next=/")
    assert client.post(form.action, data=form.fields).status_code == 302
    chinese = {path: browser.get(path).text for path in paths}
    for path in paths:
        assert '<html lang="en">' in english[path] and '<html lang="zh-Hans">' in chinese[path]
        assert '<time datetime="2028-02-29">Feb 29, 2028</time>' in english[path], path
        assert '<time datetime="2028-02-29">2028年2月29日</time>' in chinese[path], path
        assert "2028年" not in english[path] and "Feb 29" not in chinese[path], path
    # What is typed or read by programs stays ISO 8601 in both languages.
    assert browser.get(f"/items/{item['id']}").control("due_date")["value"] == "2028-02-29"
    assert api.get(f"/api/v1/items/{item['id']}").json["due_date"] == "2028-02-29"


def test_dates_in_form_errors_read_in_the_readers_convention(
        chinese: tuple[Browser, Api], client: FlaskClient, user: dict[str, Any]) -> None:
    browser, _api = chinese
    page = browser.submit("/items/new", {"title": "MTS", "due_date": "1899-12-31"})
    assert page.error("due_date") == "错误： 必须在 1900年1月1日 和 2999年12月31日 之间"
    client.post("/logout", data={"csrf_token": browser.csrf_token()})
    page = signed_in(client, user).submit("/items/new", {"title": "MTS", "due_date": "1899-12-31"})
    assert page.error("due_date") == "Error: must be between Jan 1, 1900 and Dec 31, 2999"


def test_form_errors_are_shown_in_chinese_next_to_their_field(
        chinese: tuple[Browser, Api]) -> None:
    browser, _api = chinese
    page = browser.submit("/items/new", {"title": "MTS", "due_date": "2030-02-30",
                                         "country": "Russia"})
    assert page.status == 422
    assert page.error("due_date") == "错误： 2030-02-30 不是真实存在的日期"
    assert page.error("country") == "错误： 必须是 ISO 3166-1 两字母国家/地区代码，例如 RU 或 HK"


def test_the_api_answers_in_english_for_a_chinese_account(chinese: tuple[Browser, Api]) -> None:
    _browser, api = chinese
    response = api.post("/api/v1/items", json={"title": "MTS", "due_date": "2030-02-30"})
    assert response.status_code == 422
    assert response.json["error"]["fields"]["due_date"] == "2030-02-30 is not a real calendar date"



def test_the_default_calendar_name_speaks_the_accounts_language() -> None:
    from feedsvc.feed import events
    from feedsvc.feeds import DEFAULT_FEED_NAME

    assert events.text("en", DEFAULT_FEED_NAME) == DEFAULT_FEED_NAME
    assert events.text("zh-Hans", DEFAULT_FEED_NAME) == "全部续费"
