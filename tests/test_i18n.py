"""Two languages: every string translated, chosen per reader, switched and stored."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from conftest import Api, make_user
from test_web_browser import Browser, signed_in

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "feedsvc"
CATALOG = PACKAGE / "translations" / "zh_Hans" / "LC_MESSAGES"
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


def test_every_string_has_a_chinese_translation() -> None:
    catalog = _catalog()
    extracted = _extracted()
    assert len(extracted) > 300
    missing = []
    for msgid in extracted:
        key = msgid[0] if isinstance(msgid, tuple) else msgid
        message = catalog.get(key)
        strings = () if message is None else (
            message.string if isinstance(message.string, tuple) else (message.string,))
        if message is None or not all(strings) or message.fuzzy:
            missing.append(msgid)
    assert not missing, f"translate these in {CATALOG / 'messages.po'}: {missing}"


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


def test_dates_follow_the_reader(chinese: tuple[Browser, Api], client: FlaskClient,
                                 user: dict[str, Any], api: Api) -> None:
    browser, chinese_api = chinese
    chinese_item = chinese_api.post("/api/v1/items",
                                    json={"title": "HK card", "due_date": "2031-01-09"}).json
    assert "2031年1月9日" in browser.get(f"/items/{chinese_item['id']}").text
    api.post("/api/v1/items", json={"title": "HK card", "due_date": "2031-01-09"})
    assert ">2031-01-09</time>" in signed_in(client, user).get("/").text


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
    from feedsvc import ics
    from feedsvc.feeds import DEFAULT_FEED_NAME

    assert ics.TEXTS["en"]["default_calendar_name"] == DEFAULT_FEED_NAME
    assert set(ics.TEXTS["zh-Hans"]) == set(ics.TEXTS["en"])
    assert all(ics.TEXTS["zh-Hans"].values())
