"""Messages worded in Python reach each page in the reader's language; the API keeps English.

Every situation below is met by an English and by a Chinese reader: an account in that
language, on a browser that asks for it. The Chinese page must show the Chinese text, and no
English word but the values in it (codes, column names, what was typed).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import default_exceptions

import feedsvc.feed.source
from feedsvc import feeds, items, status
from feedsvc.web.messages import HTTP_ERRORS, translate_stored

from helpers import VALID_ITEM, Api, Browser, Page, make_user, signed_in, upload

# What each language's browser asks for.
LANGUAGES = {"en": "en-US,en;q=0.9", "zh-Hans": "zh-CN,zh;q=0.9"}
NOON = dt.datetime(2027, 1, 19, 12, tzinfo=dt.UTC)
UNKNOWN_TOKEN = "A" * feeds.TOKEN_LENGTH
TOO_LARGE = "x" * (300 * 1024)  # past FEEDSVC_MAX_BODY_BYTES


@dataclass
class Reader:
    """Someone who reads the pages in one language: signed in, or as a visitor."""

    language: str
    app: Flask
    browser: Browser
    api: Api

    def visitor(self) -> FlaskClient:
        """A browser that is not signed in and asks for the reader's language."""
        client = self.app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = LANGUAGES[self.language]
        return client


@pytest.fixture(params=list(LANGUAGES))
def reader(request: pytest.FixtureRequest, app: Flask,
           monkeypatch: pytest.MonkeyPatch) -> Reader:
    monkeypatch.setattr(status, "utc_now", lambda: NOON)  # "today" is 2027-01-19
    account = make_user(app, "reader@example.com", locale=request.param)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = LANGUAGES[request.param]
    return Reader(request.param, app, signed_in(client, account), Api(client, account["token"]))


def english_words(text: str) -> set[str]:
    """The Latin-letter words of a text (one letter alone, as "N", is no word)."""
    return set(re.findall(r"[A-Za-z][A-Za-z_]*[A-Za-z]", text))


def visible(fragment: str) -> str:
    """What a reader sees of some HTML: its text without tags, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def lead(page: Page) -> tuple[int, str]:
    """An error page's status and message."""
    found = re.search(r'<p class="lead">(.*?)</p>', page.text, re.DOTALL)
    assert found, page.text
    return page.status, visible(found.group(1))


def alert(page: Page) -> str:
    """The message at the top of a form."""
    found = re.search(r'<div class="form-message" role="alert">(.*?)</div>', page.text, re.DOTALL)
    assert found, page.text
    return visible(found.group(1))


def field_error(page: Page, control: str) -> tuple[int, str]:
    """A form's status and the message next to one control."""
    error = page.error(control)
    assert error is not None, page.text
    return page.status, error


def problem(page: Page) -> tuple[int, str]:
    """The import page's status and its only problem, as "row | column | message" ("-": none)."""
    rows = re.findall(r'<tr class="import-problem">(.*?)</tr>', page.text, re.DOTALL)
    assert len(rows) == 1, page.text
    cells = [visible(cell) or "-" for cell in re.findall(r"<td>(.*?)</td>", rows[0], re.DOTALL)]
    return page.status, " | ".join(cells)


def with_csrf(reader: Reader) -> dict[str, str]:
    return {"csrf_token": reader.browser.csrf_token()}


def create_item(reader: Reader, **fields: Any) -> dict[str, Any]:
    response = reader.api.post("/api/v1/items", json={**VALID_ITEM, **fields})
    assert response.status_code == 201, response.json
    return dict(response.json)


def replaced_feed_path(reader: Reader) -> str:
    """The path of a feed URL that was replaced by a new one."""
    feed = reader.api.post("/api/v1/feeds", json={"name": "Polled"}).json
    assert reader.api.post(f"/api/v1/feeds/{feed['id']}/rotate").status_code == 200
    return urlsplit(feed["url"]).path


def throttled(reader: Reader, path: str, data: dict[str, str], times: int) -> tuple[int, str]:
    """Post a form from one visitor until the throttle answers."""
    reader.app.config["WTF_CSRF_ENABLED"] = False
    visitor = reader.visitor()
    for _ in range(times):
        visitor.post(path, data=data)
    return lead(Page(visitor.post(path, data=data)))


def fetched_too_often(reader: Reader) -> tuple[int, str]:
    """Poll a replaced feed URL past its throttle."""
    path = replaced_feed_path(reader)
    visitor = reader.visitor()
    for _ in range(120):
        visitor.get(path)
    return lead(Page(visitor.get(path)))


def renewal_error(reader: Reader, item: dict[str, Any], changes: dict[str, str | None],
                  control: str) -> tuple[int, str]:
    return field_error(reader.browser.submit(f"/items/{item['id']}/renew", changes), control)


def archived_items_calendar_file(reader: Reader) -> tuple[int, str]:
    item = create_item(reader, archived=True)
    code, text = lead(reader.browser.get(f"/items/{item['id']}.ics"))
    return code, text.replace(str(item["id"]), "N")


def login_needed(reader: Reader) -> tuple[int, str]:
    visitor = reader.visitor()
    response = visitor.get("/items/new")
    assert response.status_code == 302 and response.location.startswith("/login")
    page = Page(visitor.get(response.location))
    return page.status, " / ".join(page.flashes())


def taken_email(reader: Reader) -> tuple[int, str]:
    """The same answer as a new address gets: to the log-in page (test_account_privacy)."""
    visitor = reader.visitor()
    page = Browser(visitor).submit("/signup", {
        "email": "READER@example.com", "password": "long enough", "confirm": "long enough"})
    assert page.status == 302 and page.response.location == "/login"
    login = Page(visitor.get(page.response.location))
    # The first says it; the notices about the confirmation mail after it are
    # test_account_mail's.
    return login.status, login.flashes()[0]


def signup_password(reader: Reader) -> tuple[int, str]:
    page = Browser(reader.visitor()).submit("/signup", {
        "email": "new@example.com", "password": "short", "confirm": "short"})
    return field_error(page, "password")


class Situation(NamedTuple):
    id: str
    meet: Callable[[Reader], tuple[int, str]]  # → the status and the text shown
    status: int
    english: str
    chinese: str
    values: frozenset[str] = frozenset()  # Latin words that are values, the same in Chinese


def csv(situation_id: str, data: bytes, english: str, chinese: str,
        *values: str) -> Situation:
    """Uploading a CSV file with one problem."""
    return Situation(situation_id, lambda reader: problem(upload(reader.browser, data)), 422,
                     english, chinese, frozenset(values))


HEADER = b"title,due_date"

SITUATIONS = [
    # Error pages raised by domain code, Werkzeug, Flask-WTF and Flask-Limiter.
    Situation("unknown-item", lambda r: lead(r.browser.get("/items/999999")), 404,
              "No item 999999.", "没有编号为 999999 的项目。"),
    Situation("unknown-item-renewal", lambda r: lead(r.browser.get("/items/999999/renew")), 404,
              "No item 999999.", "没有编号为 999999 的项目。"),
    Situation("archived-items-calendar-file", archived_items_calendar_file, 404,
              "No item N.", "没有编号为 N 的项目。"),
    Situation("unknown-calendar", lambda r: lead(r.browser.get("/calendars/999999")), 404,
              "No feed 999999.", "没有编号为 999999 的日历。"),
    Situation("unknown-calendar-address",
              lambda r: lead(Page(r.visitor().get(f"/feeds/{UNKNOWN_TOKEN}.ics"))), 404,
              "No such calendar.", "没有这个日历。"),
    Situation("replaced-calendar-address",
              lambda r: lead(Page(r.visitor().get(replaced_feed_path(r)))), 410,
              "This calendar address was replaced or deleted. Subscribe again with the new "
              "address.", "这个日历地址已被更换或删除。请用新地址重新订阅。"),
    Situation("unknown-token", lambda r: lead(Page(r.browser.client.post(
        "/tokens/999999/revoke", data=with_csrf(r)))), 404,
              "No such token.", "没有这个令牌。"),
    Situation("unknown-page", lambda r: lead(r.browser.get("/no/such/page")), 404,
              "The requested URL was not found on the server. If you entered the URL manually "
              "please check your spelling and try again.",
              "服务器上找不到这个网址。如果网址是手动输入的，请检查拼写后重试。"),
    Situation("wrong-method", lambda r: lead(r.browser.get("/logout")), 405,
              "The method is not allowed for the requested URL.", "这个网址不接受这种请求方式。"),
    Situation("too-large-upload", lambda r: lead(Page(r.browser.client.post(
        "/items/import", data={"file": TOO_LARGE}))), 413,
              "The data value transmitted exceeds the capacity limit.", "发送的数据超出了大小上限。"),
    Situation("expired-form", lambda r: lead(Page(r.browser.client.post(
        "/items/new", data={"title": "MTS"}))), 400,
              "The form expired; please try again.", "表单已过期，请重试。"),
    Situation("log-in-throttled", lambda r: throttled(
        r, "/login", {"email": "reader@example.com", "password": "wrong"}, 10), 429,
              "Too many log-in attempts. Wait a minute and try again.",
              "登录尝试次数太多了。请等一分钟后再试。"),
    Situation("sign-up-throttled", lambda r: throttled(r, "/signup", {"email": "bad"}, 10), 429,
              "Too many accounts created from this address. Try again later.",
              "从这个 IP 地址创建的账号太多了。请稍后再试。", frozenset({"IP"})),
    Situation("calendar-fetched-too-often", fetched_too_often, 429,
              "This calendar is being fetched too often. Try again in a minute.",
              "这个日历被获取得太频繁了。请一分钟后再试。"),
    # Logging in and signing up.
    Situation("log-in-needed", login_needed, 200,
              "Please log in to access this page.", "请登录后访问此页面。"),
    Situation("sign-up-with-a-taken-e-mail", taken_email, 200,
              "Your account is ready: log in with your e-mail address and password.",
              "你的账号已就绪：请用你的电子邮箱和密码登录。"),
    Situation("sign-up-with-a-short-password", signup_password, 422,
              "Error: must have at least 8 characters", "错误： 至少需要 8 个字符"),
    Situation("wrong-password-to-delete-the-account", lambda r: field_error(r.browser.submit(
        "/settings/delete", {"password": "wrong password"}), "password"), 422,
              "Error: is not correct", "错误： 不正确"),
    Situation("new-password-too-long", lambda r: field_error(r.browser.submit(
        "/settings/password", {"current_password": "correct horse battery",
                               "new_password": "p" * 1025, "confirm": "p" * 1025}),
        "new_password"), 422,
              "Error: must have at most 1024 characters", "错误： 最多 1024 个字符"),
    # Renewing (VALID_ITEM is due 2027-03-31 every 3 months at 300.00 RUB).
    Situation("renewal-due-date-not-later", lambda r: renewal_error(
        r, create_item(r), {"due_date": "2027-03-31"}, "due_date"), 422,
              "Error: must be after the current due date Mar 31, 2027",
              "错误： 必须晚于当前到期日 2027年3月31日"),
    Situation("renewal-in-the-future", lambda r: renewal_error(
        r, create_item(r), {"renewed_on": "2027-01-20"}, "renewed_on"), 422,
              "Error: cannot be in the future", "错误： 不能晚于今天"),
    Situation("renewal-without-due-date-or-rule", lambda r: renewal_error(
        r, create_item(r, repeat=None), {}, "due_date"), 422,
              "Error: is required for an item that does not repeat", "错误： 不重复的项目必须填写"),
    Situation("renewal-amount-without-currency", lambda r: renewal_error(
        r, create_item(r, price=None), {"amount": "10", "currency": ""}, "currency"), 422,
              "Error: is required with an amount", "错误： 填写金额时必填"),
    Situation("renewal-currency-without-amount", lambda r: renewal_error(
        r, create_item(r), {"amount": ""}, "amount"), 422,
              "Error: is required with a currency", "错误： 填写币种时必填"),
    Situation("renewal-past-the-last-date", lambda r: renewal_error(
        r, create_item(r, due_date="2999-12-01"), {}, "periods"), 422,
              "Error: would move the due date past Dec 31, 2999",
              "错误： 会让到期日超过 2999年12月31日"),
    # Importing a CSV file: the header, each kind of cell, and the file as a whole.
    csv("csv-unknown-column", b"title,due_date,colour\r\nA,2027-01-01,red\r\n",
        "1 | colour | is not a known column", "1 | colour | 不是可识别的列", "colour"),
    csv("csv-missing-column", b"title\r\nA\r\n",
        "1 | due_date | is a required column", "1 | due_date | 是必填列", "due_date"),
    csv("csv-column-twice", b"title,due_date,title\r\nA,2027-01-01,B\r\n",
        "1 | - | A column appears twice.", "1 | - | 有一列出现了两次。"),
    csv("csv-more-cells-than-the-header", HEADER + b"\r\nA,2027-01-01,x\r\n",
        "2 | - | has more cells than the header", "2 | - | 单元格比表头多"),
    csv("csv-no-real-date", HEADER + b"\r\nA,2027-02-30\r\n",
        "2 | due_date | 2027-02-30 is not a real calendar date",
        "2 | due_date | 2027-02-30 不是真实存在的日期", "due_date"),
    csv("csv-date-not-iso", HEADER + b"\r\nA,31/12/2027\r\n",
        "2 | due_date | must be a date written YYYY-MM-DD",
        "2 | due_date | 日期格式必须是 YYYY-MM-DD", "due_date", "YYYY", "MM", "DD"),
    csv("csv-date-out-of-range", HEADER + b"\r\nA,1899-12-31\r\n",
        "2 | due_date | must be between Jan 1, 1900 and Dec 31, 2999",
        "2 | due_date | 必须在 1900年1月1日 和 2999年12月31日 之间", "due_date"),
    csv("csv-unknown-category", b"title,due_date,category\r\nA,2027-01-01,spaceship\r\n",
        "2 | category | Input should be 'sim', 'subscription', 'domain', 'document' or 'other'",
        "2 | category | 必须是以下之一：'sim'、'subscription'、'domain'、'document'或'other'",
        "category", "sim", "subscription", "domain", "document", "other"),
    csv("csv-not-a-number", b"title,due_date,grace_days\r\nA,2027-01-01,abc\r\n",
        "2 | grace_days | Input should be a valid integer", "2 | grace_days | 必须是整数",
        "grace_days"),
    csv("csv-number-too-large", b"title,due_date,grace_days\r\nA,2027-01-01,400\r\n",
        "2 | grace_days | Input should be less than or equal to 365",
        "2 | grace_days | 不能大于 365", "grace_days"),
    csv("csv-not-yes-or-no", b"title,due_date,auto_renew\r\nA,2027-01-01,maybe\r\n",
        "2 | auto_renew | must be yes or no", "2 | auto_renew | 必须是 yes 或 no",
        "auto_renew", "yes", "no"),
    csv("csv-empty-title", HEADER + b"\r\n,2027-01-01\r\n",
        "2 | title | must not be empty", "2 | title | 不能为空", "title"),
    csv("csv-title-too-long", HEADER + b"\r\n" + b"x" * 201 + b",2027-01-01\r\n",
        "2 | title | String should have at most 200 characters", "2 | title | 最多 200 个字符",
        "title"),
    csv("csv-unknown-country", b"title,due_date,country\r\nA,2027-01-01,XX\r\n",
        "2 | country | must be an ISO 3166-1 two-letter country code such as RU or HK",
        "2 | country | 必须是 ISO 3166-1 两字母国家/地区代码，例如 RU 或 HK",
        "country", "ISO", "RU", "HK"),
    csv("csv-empty-file", b"", "- | - | The file is empty.", "- | - | 文件是空的。"),
    csv("csv-no-rows", HEADER + b"\r\n", "- | - | The file has no rows under its header.",
        "- | - | 文件在表头下面没有数据行。"),
    csv("csv-too-many-rows", HEADER + b"\r\n" + b"A,2027-01-01\r\n" * 501,
        "- | - | The file has 501 rows; at most 500 can be imported at once.",
        "- | - | 文件有 501 行；一次最多只能导入 500 行。"),
    csv("csv-file-too-large", HEADER + b"\r\n" + b"A" * (201 * 1024) + b",2027-01-01\r\n",
        "- | - | The file is larger than 200 KB.", "- | - | 文件超过 200 KB。", "KB"),
    csv("csv-not-utf8-or-gbk", HEADER + b"\r\n\xff\xfe\xfa,2027-01-01\r\n",
        "- | - | The file is not UTF-8 or GBK text. Save it as “CSV UTF-8”.",
        "- | - | 文件不是 UTF-8 或 GBK 文本。请另存为“CSV UTF-8”。", "UTF", "GBK", "CSV"),
]


@pytest.mark.parametrize("situation", SITUATIONS, ids=[s.id for s in SITUATIONS])
def test_the_page_says_it_in_the_readers_language(reader: Reader, situation: Situation) -> None:
    code, shown = situation.meet(reader)
    assert code == situation.status, shown
    if reader.language == "en":
        assert shown == situation.english
    else:
        assert shown == situation.chinese
        assert english_words(shown) <= situation.values, "English left on a Chinese page"


class Failure(NamedTuple):
    id: str
    error: Callable[[], Exception]
    status: int
    english: str
    chinese: str


def _stored_data_invalid() -> Exception:
    try:
        TypeAdapter(int).validate_python("not a number")
    except ValidationError as error:
        return error
    raise AssertionError("pydantic accepted it")


FAILURES = [
    Failure("changed-at-the-same-time", lambda: StaleDataError("version mismatch"), 409,
            "Someone changed this at the same time. Reload it and try again.",
            "有人同时修改了这里的内容。请重新加载后再试。"),
    Failure("database-unavailable",
            lambda: OperationalError("SELECT", {}, Exception("connection refused")), 503,
            "The service is temporarily unavailable. Please try again in a moment.",
            "服务暂时不可用。请稍后再试。"),
    Failure("stored-data-invalid", _stored_data_invalid, 503,
            "Some stored data cannot be shown right now. Please try again later.",
            "部分已保存的数据暂时无法显示。请稍后再试。"),
    Failure("unexpected", lambda: RuntimeError("bug"), 500,
            "Something went wrong on our side.", "我们这边出了问题。"),
]


def failing(error: Callable[[], Exception]) -> Callable[..., Any]:
    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise error()
    return fail


@pytest.mark.parametrize("failure", FAILURES, ids=[f.id for f in FAILURES])
def test_a_failure_on_our_side_is_told_in_the_readers_language(
        reader: Reader, monkeypatch: pytest.MonkeyPatch, failure: Failure) -> None:
    monkeypatch.setattr(items, "list_items", failing(failure.error))
    code, shown = lead(reader.browser.get("/"))
    assert code == failure.status
    assert shown == (failure.english if reader.language == "en" else failure.chinese)


def test_a_calendar_that_cannot_be_built_says_so_in_the_readers_language(
        reader: Reader, monkeypatch: pytest.MonkeyPatch) -> None:
    path = urlsplit(reader.api.post("/api/v1/feeds", json={"name": "All"}).json["url"]).path
    monkeypatch.setattr(feedsvc.feed.source, "read_source", failing(lambda: RuntimeError("bug")))
    code, shown = lead(Page(reader.visitor().get(path)))
    assert code == 503
    assert shown == ("The calendar is temporarily unavailable; please try again later."
                     if reader.language == "en" else "日历暂时无法使用，请稍后再试。")


def test_an_error_page_follows_the_accounts_language_over_the_browsers(
        app: Flask, client: FlaskClient) -> None:
    account = make_user(app, "reader@example.com", locale="zh-Hans")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = LANGUAGES["en"]
    assert lead(signed_in(client, account).get("/items/999999")) == (
        404, "没有编号为 999999 的项目。")


@pytest.mark.parametrize("code", sorted(HTTP_ERRORS))
def test_werkzeugs_descriptions_are_marked_word_for_word(code: int) -> None:
    assert HTTP_ERRORS[code] == default_exceptions[code].description


DEFAULT_NAME = {"en": "All renewals", "zh-Hans": "全部续费"}


def test_the_default_calendar_name_reads_in_the_readers_language_and_is_kept_as_stored(
        reader: Reader) -> None:
    feed = reader.api.post("/api/v1/feeds", json={"name": "All renewals"}).json
    name = DEFAULT_NAME[reader.language]
    page = reader.browser.get("/calendars")
    assert re.findall(r'<h2 class="calendar-name">(.*?)</h2>', page.text) == [name]
    assert (reader.language == "en") == ("All renewals" in page.text)
    for path in (f"/calendars/{feed['id']}/rotate", f"/calendars/{feed['id']}/delete"):
        assert f"“{name}”" in reader.browser.get(path).text, path
    edit = f"/calendars/{feed['id']}"
    assert reader.browser.get(edit).values(edit)["name"] == name
    saved = reader.browser.submit(edit, action=edit)
    assert saved.status == 302
    assert f"“{name}”" in reader.browser.get("/calendars").flashes()[0]
    assert reader.api.get("/api/v1/feeds").json["feeds"][0]["name"] == "All renewals"


# (code, as an English form proposes it, as a Chinese one does)
PROPOSED = [("RU", "Russia", "俄罗斯"), ("HK", "Hong Kong SAR China", "中国香港特别行政区"),
            ("RUB", "Russian Ruble", "俄罗斯卢布"), ("HKD", "Hong Kong Dollar", "港元")]


@pytest.mark.parametrize("path", ["/items/new", "/items/{id}", "/items/{id}/renew"])
def test_the_forms_propose_countries_and_currencies_in_the_readers_language(
        reader: Reader, path: str) -> None:
    page = reader.browser.get(path.format(id=create_item(reader)["id"])).text
    options = dict(re.findall(r'<option value="([A-Z]{2,3})">([^<]*)</option>', page))
    for code, english, chinese in PROPOSED:
        if code in options or len(code) == 3:  # the renewal form proposes only currencies
            assert options[code] == (english if reader.language == "en" else chinese), code
    if reader.language != "en":  # (a few rare currencies have no Chinese name in CLDR)
        assert not any(english_words(name) for code, name in options.items() if len(code) == 2)


# The API answers in English whoever asks, word for word as before.

class ApiCase(NamedTuple):
    id: str
    call: Callable[[Reader], Any]  # → the response
    status: int
    message: str
    fields: dict[str, str] | None = None


def renew_due_date_not_later(reader: Reader) -> Any:
    item = create_item(reader)
    return reader.api.post(f"/api/v1/items/{item['id']}/renewals", json={"due_date": "2027-03-31"})


API_CASES = [
    ApiCase("unknown-item", lambda r: r.api.get("/api/v1/items/999999"), 404, "No item 999999."),
    ApiCase("unknown-feed", lambda r: r.api.patch("/api/v1/feeds/999999", json={}), 404,
            "No feed 999999."),
    ApiCase("nothing-to-undo", lambda r: r.api.delete(
        f"/api/v1/items/{create_item(r)['id']}/renewals/latest"), 409,
            "There is no renewal to undo."),
    ApiCase("renewal-due-date-not-later", renew_due_date_not_later, 422,
            "The renewal is not valid: due_date must be after the current due date 2027-03-31.",
            {"due_date": "must be after the current due date 2027-03-31"}),
    ApiCase("fields-missing", lambda r: r.api.post("/api/v1/items", json={}), 422,
            "Some fields are not valid: due_date, title.",
            {"due_date": "is required", "title": "is required"}),
    ApiCase("body-not-an-object", lambda r: r.api.post("/api/v1/items", json=[]), 422,
            "The body must be a JSON object.", {"body": "must be an object"}),
    ApiCase("unknown-url", lambda r: r.api.get("/api/v1/nothing"), 404,
            "The requested URL was not found on the server. If you entered the URL manually "
            "please check your spelling and try again."),
    ApiCase("wrong-method", lambda r: r.api.client.put("/api/v1/me", headers=r.api.headers),
            405, "The method is not allowed for the requested URL."),
    ApiCase("body-too-large", lambda r: r.api.post(
        "/api/v1/items", data=TOO_LARGE, content_type="application/json"), 413,
            "The data value transmitted exceeds the capacity limit."),
]


@pytest.mark.parametrize("case", API_CASES, ids=[c.id for c in API_CASES])
def test_the_api_answers_in_english_whatever_the_language(reader: Reader, case: ApiCase) -> None:
    response = case.call(reader)
    assert response.status_code == case.status
    expected: dict[str, Any] = {"status": case.status, "message": case.message}
    if case.fields is not None:
        expected["fields"] = case.fields
    assert response.json == {"error": expected}


@pytest.mark.parametrize(("stored", "chinese"), [
    ("The service refused the message: HTTP 404.", "服务拒收了这条消息：HTTP 404。"),
    ("ntfy.example.org points to 10.0.0.5, which is not a public address.",
     "ntfy.example.org 指向 10.0.0.5，不是公网地址。"),
    ("127.0.0.1 is not a public address.", "127.0.0.1 不是公网地址。"),
    ("The mail server refused the message: SMTP 550 5.1.1 no such user",
     "邮件服务器拒收了这封邮件：SMTP 550 5.1.1 no such user"),
    ("renewed meanwhile", "期间已续费"),
    ("Something no catalog knows: 42", "Something no catalog knows: 42"),
])
def test_a_stored_reason_with_its_values_reads_in_chinese(app: Flask, stored: str,
                                                          chinese: str) -> None:
    with app.test_request_context(), force_locale("zh_Hans"):
        assert translate_stored(stored) == chinese
    with app.test_request_context(), force_locale("en"):
        assert translate_stored(stored) == stored
