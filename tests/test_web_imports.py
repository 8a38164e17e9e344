"""The CSV import pages: template, upload, preview, confirm; all or nothing."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from feedsvc import imports
from feedsvc.db import new_session
from feedsvc.models import Item

from helpers import Api, Browser, Page, make_user, signed_in, upload

GOOD = ("title,due_date,provider,country,repeat_every,repeat_unit,bound_services\r\n"
        "MTS Russia,2027-03-31,MTS,RU,3,month,Sberbank;Telegram\r\n"
        "香港 CSL,2027-01-15,CSL,HK,,,\r\n").encode("utf-8-sig")
BAD = (b"title,due_date,country\r\n"
       b"Good one,2027-03-31,RU\r\n"
       b",2027-01-15,HK\r\n"
       b"Bad date,2027-02-30,XX\r\n")


@pytest.fixture
def browser(client: FlaskClient, user: dict[str, Any]) -> Browser:
    return signed_in(client, user)


def titles(api: Api) -> list[str]:
    return [item["title"] for item in api.get("/api/v1/items").json["items"]]


def test_the_template_downloads_as_a_csv_attachment(browser: Browser) -> None:
    response = browser.client.get("/items/import/template.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.data == imports.template_csv()
    assert 'href="/items/import/template.csv"' in browser.get("/items/import").text


def test_the_list_links_to_the_import(browser: Browser) -> None:
    assert 'href="/items/import"' in browser.get("/").text


def test_a_good_file_is_previewed_then_imported_on_confirm(browser: Browser, api: Api) -> None:
    preview = upload(browser, GOOD)
    assert preview.status == 200
    assert "2 items ready to import" in preview.text
    assert "MTS Russia" in preview.text and "香港 CSL" in preview.text
    assert '<td><time datetime="2027-03-31">Mar 31, 2027</time></td>' in preview.text
    assert '<td><time datetime="2027-01-15">Jan 15, 2027</time></td>' in preview.text
    assert titles(api) == []  # nothing saved by the preview
    confirm = preview.form("/items/import/confirm")
    response = browser.client.post("/items/import/confirm", data=confirm.fields)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/")
    items = api.get("/api/v1/items").json["items"]
    assert [item["title"] for item in items] == ["香港 CSL", "MTS Russia"]
    assert items[1]["repeat"] == {"every": 3, "unit": "month", "from": "schedule"}
    assert items[1]["bound_services"] == ["Sberbank", "Telegram"]
    assert items[1]["alarms"] is None
    assert "Imported 2 items." in browser.get("/").text


def test_a_bad_file_shows_each_problem_by_row_and_saves_nothing(
    browser: Browser, api: Api
) -> None:
    page = upload(browser, BAD)
    assert page.status == 422
    assert "Nothing was imported" in page.text
    assert "/items/import/confirm" not in page.text
    problem_rows = [row for row in page.text.split('<tr class="import-problem">')[1:]]
    cells = [row.split("</tr>")[0] for row in problem_rows]
    assert len(cells) == 3
    assert "<td>3</td><td><code>title</code></td>" in cells[0]
    assert "<td>4</td><td><code>country</code></td>" in cells[1] + cells[2]
    assert "<td>4</td><td><code>due_date</code></td>" in cells[1] + cells[2]
    assert titles(api) == []


def test_a_tampered_confirmation_saves_nothing(browser: Browser, api: Api) -> None:
    confirm = upload(browser, GOOD).form("/items/import/confirm")
    tampered = {**confirm.fields, "csv_text": BAD.decode()}
    page = Page(browser.client.post("/items/import/confirm", data=tampered))
    assert page.status == 422
    assert titles(api) == []


def test_an_upload_without_a_file_asks_for_one(browser: Browser) -> None:
    form = browser.get("/items/import").form("/items/import")
    page = Page(browser.client.post("/items/import", data=form.fields,
                                    content_type="multipart/form-data"))
    assert page.status == 422
    assert "Choose a CSV file" in page.text


@pytest.mark.parametrize("path", ["/items/import", "/items/import/confirm"])
def test_import_posts_without_a_csrf_token_are_refused(
    browser: Browser, api: Api, path: str
) -> None:
    data = {"file": (io.BytesIO(GOOD), "items.csv"), "csv_text": GOOD.decode("utf-8-sig")}
    response = browser.client.post(path, data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert titles(api) == []


@pytest.mark.parametrize("path", ["/items/import", "/items/import/template.csv"])
def test_the_import_pages_need_a_sign_in(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_a_full_file_of_chinese_rows_is_confirmed_within_the_body_limit(
    browser: Browser, api: Api
) -> None:
    rows = [f"俄罗斯保号卡 第{n}号 备注很长的中文文字,2027-01-01" for n in range(imports.MAX_ROWS)]
    data = ("title,due_date\r\n" + "\r\n".join(rows)).encode("gb18030")
    preview = upload(browser, data, "保号卡.csv")
    assert preview.status == 200, preview.text[:2000]
    confirm = preview.form("/items/import/confirm")
    response = browser.client.post("/items/import/confirm", data=confirm.fields,
                                   content_type="multipart/form-data")
    assert response.status_code == 302
    assert len(titles(api)) == imports.MAX_ROWS


def chinese_rows(count: int, note_length: int) -> bytes:
    """A GBK file, as Chinese Excel saves it: ``count`` rows with long Chinese notes."""
    rows = [f"保号卡 第{n}号,2027-01-01,{'续费说明' * (note_length // 4)}" for n in range(count)]
    return ("title,due_date,notes\r\n" + "\r\n".join(rows)).encode("gb18030")


def confirm_as_a_browser(browser: Browser, preview: Page) -> Any:
    """Post the preview's confirm form as a browser does: multipart, line breaks as CRLF."""
    fields = preview.form("/items/import/confirm").fields
    fields["csv_text"] = re.sub(r"\r\n|\r|\n", "\r\n", fields["csv_text"])
    return browser.client.post("/items/import/confirm", data=fields,
                               content_type="multipart/form-data")


def test_a_gbk_file_within_the_limit_in_utf8_is_imported_on_confirm(
        browser: Browser, api: Api) -> None:
    data = chinese_rows(300, 200)
    assert 120_000 < len(data) < imports.text_size(data.decode("gb18030")) <= imports.MAX_BYTES
    preview = upload(browser, data, "保号卡.csv")
    assert preview.status == 200, preview.text[:2000]
    response = confirm_as_a_browser(browser, preview)
    assert response.status_code == 302
    assert len(titles(api)) == 300


def test_a_gbk_file_too_large_in_utf8_is_refused_by_the_preview(browser: Browser,
                                                                 api: Api) -> None:
    """Under 200 KB in GBK, but the confirm step would post it back in UTF-8 (which once
    went over the body limit: 413)."""
    data = chinese_rows(300, 300)
    assert len(data) <= imports.MAX_BYTES
    assert imports.text_size(data.decode("gb18030")) > browser.client.application.config[
        "MAX_CONTENT_LENGTH"]
    preview = upload(browser, data, "保号卡.csv")
    assert preview.status == 422
    assert "Converted to UTF-8, the file is larger than 200 KB." in preview.text
    assert titles(api) == []


def test_the_size_limit_is_the_same_at_both_steps(browser: Browser, api: Api) -> None:
    """A file exactly at the limit passes the preview and the confirm step, one byte more
    fails the preview: the two never disagree."""
    head = "title,due_date,notes\n保号卡,2027-01-01,"
    filler = imports.MAX_BYTES - imports.text_size(head)
    exact = (head + "x" * filler).encode("gb18030")
    assert imports.text_size(exact.decode("gb18030")) == imports.MAX_BYTES
    preview = upload(browser, exact, "exact.csv")
    # A single row of notes is too long for an item: the limit is what is checked here.
    assert "larger than" not in preview.text
    over = (head + "x" * (filler + 1)).encode("gb18030")
    assert "larger than 200 KB" in upload(browser, over, "over.csv").text


# A Wallos export goes through the same page, steps and limits (see test_wallos.py).

DATA = Path(__file__).parent / "data"
WALLOS = (DATA / "wallos-export.json").read_bytes()
WALLOS_BROKEN = (DATA / "wallos-export-broken.json").read_bytes()
CURRENCIES = {"currency_dollar": "USD", "currency_yen": "CNY"}


def upload_export(browser: Browser, data: bytes, **choices: str) -> Page:
    """Send a Wallos export through the import form, with the currencies chosen for its
    shared symbols."""
    form = browser.get("/items/import").form("/items/import")
    return Page(browser.client.post("/items/import", data={
        **form.fields, **choices, "file": (io.BytesIO(data), "subscriptions.json")},
        content_type="multipart/form-data"))


def problem_cells(page: Page) -> list[tuple[str, str]]:
    """Each problem row of the page as (number, field)."""
    cells = [re.findall(r"<td>(?:<code>)?(.*?)(?:</code>)?</td>", row)
             for row in re.findall(r'<tr class="import-problem">(.*?)</tr>', page.text)]
    return [(number, field) for number, field, _problem in cells]


@pytest.fixture
def chinese_browser(app: Flask) -> Browser:
    return signed_in(app.test_client(), make_user(app, "zh@example.com", locale="zh-Hans"))


def test_a_wallos_export_is_previewed_then_imported_on_confirm(browser: Browser,
                                                               api: Api) -> None:
    preview = upload_export(browser, WALLOS, **CURRENCIES)
    assert preview.status == 200, preview.text[:3000]
    assert "9 items ready to import" in preview.text
    rows = re.findall(r'<tr class="import-row">(.*?)</tr>', preview.text, re.DOTALL)
    assert "<td>2</td><td>giffgaff SIM</td>" in rows[1]
    assert "<td>6 months</td><td>10.00 GBP</td>" in rows[1]
    assert "<td>1 day</td><td>4.50 CHF</td>" in rows[5]
    assert '<span class="badge">Archived</span>' in rows[7]
    assert titles(api) == []  # nothing saved by the preview
    confirm = preview.form("/items/import/confirm")
    assert {name: confirm.fields[name] for name in CURRENCIES} == CURRENCIES
    response = browser.client.post("/items/import/confirm", data=confirm.fields,
                                   content_type="multipart/form-data")
    assert response.status_code == 302
    current = {item["title"]: item for item in api.get("/api/v1/items").json["items"]}
    archived = api.get("/api/v1/items?archived=true").json["items"]
    assert [item["title"] for item in archived] == ["Spotify Family"]
    assert len(current) == 8
    giffgaff = current["giffgaff SIM"]
    assert (giffgaff["category"], giffgaff["due_date"], giffgaff["repeat"], giffgaff["price"],
            giffgaff["url"], giffgaff["auto_renew"], giffgaff["alarms"]) == (
        "subscription", "2027-05-01", {"every": 6, "unit": "month", "from": "schedule"},
        {"amount": "10.00", "currency": "GBP"}, "https://giffgaff.com/top-up", False, None)
    assert giffgaff["notes"].endswith("Wallos category: Utilities\nPayment method: PayPal")
    assert current["Netflix"]["price"] == {"amount": "15.49", "currency": "USD"}
    assert current["爱奇艺 VIP 会员"]["price"] == {"amount": "25.00", "currency": "CNY"}
    assert "Imported 9 items." in browser.get("/").text


def test_a_wallos_export_is_imported_in_chinese_with_chinese_notes(chinese_browser: Browser,
                                                                   app: Flask) -> None:
    preview = upload_export(chinese_browser, WALLOS, **CURRENCIES)
    assert preview.status == 200
    assert "9 个项目可以导入" in preview.text
    assert "<td>6 个月</td>" in preview.text
    assert '<span class="badge">已归档</span>' in preview.text
    response = chinese_browser.client.post(
        "/items/import/confirm", data=preview.form("/items/import/confirm").fields,
        content_type="multipart/form-data")
    assert response.status_code == 302
    assert "已导入 9 个项目。" in chinese_browser.get("/").text
    with app.app_context(), new_session(app) as session:
        notes = session.scalars(select(Item.notes).where(Item.title == "爱奇艺 VIP 会员")).one()
    assert notes == "连续包月 可随时取消\n\nWallos 分类：娱乐\n付款方式：AliPay"


def test_a_broken_wallos_export_shows_each_problem_by_number_and_field(browser: Browser,
                                                                       api: Api) -> None:
    page = upload_export(browser, WALLOS_BROKEN, **CURRENCIES)
    assert page.status == 422
    assert "Nothing was imported" in page.text
    assert "/items/import/confirm" not in page.text
    assert "<th scope=\"col\">No.</th><th scope=\"col\">Field</th>" in page.text
    assert problem_cells(page) == [
        ("2", "Next Payment"), ("3", "Payment Cycle"), ("4", "Price"), ("5", "Name"),
        ("6", "Renewal"), ("8", "Next Payment")]
    assert "2027-02-30 is not a real calendar date" in page.text
    assert "“¤” is not a currency symbol this import knows" in page.text
    assert titles(api) == []


def test_a_broken_wallos_export_is_explained_in_chinese(chinese_browser: Browser) -> None:
    page = upload_export(chinese_browser, WALLOS_BROKEN)
    assert page.status == 422
    assert "<th scope=\"col\">序号</th><th scope=\"col\">字段</th>" in page.text
    assert ("7", "Price") in problem_cells(page)
    assert "“$”是多种货币的符号（AUD, CAD, USD）" in page.text
    assert "不是本导入能识别的付款周期" in page.text


def test_a_symbol_several_currencies_share_asks_for_a_choice(browser: Browser,
                                                             api: Api) -> None:
    page = upload_export(browser, WALLOS)
    assert page.status == 422
    assert problem_cells(page) == [("1", "Price"), ("7", "Price")]
    assert '<details class="import-symbols" open>' in page.text
    assert "choose which one under “Currency symbols”" in page.text
    form = page.form("/items/import")
    assert {name: form.fields[name] for name in ("currency_dollar", "currency_yen",
                                                 "currency_krona")} == {
        "currency_dollar": "", "currency_yen": "", "currency_krona": ""}
    assert upload_export(browser, WALLOS, currency_dollar="USD", currency_yen="GBP").status == 422
    assert upload_export(browser, WALLOS, **CURRENCIES).status == 200
    assert titles(api) == []


def test_a_confirmation_without_the_chosen_currencies_saves_nothing(browser: Browser,
                                                                    api: Api) -> None:
    confirm = upload_export(browser, WALLOS, **CURRENCIES).form("/items/import/confirm")
    fields = {name: value for name, value in confirm.fields.items() if name != "currency_yen"}
    page = Page(browser.client.post("/items/import/confirm", data=fields,
                                    content_type="multipart/form-data"))
    assert page.status == 422
    assert problem_cells(page) == [("7", "Price")]
    assert titles(api) == []


@pytest.mark.parametrize(("data", "message"), [
    (b"[{\"Name\": ", "The file is not a readable JSON file."),
    (b"[" * 100_000, "The file is not a readable JSON file."),
    (b'{"success": false, "message": "Your session expired"}',
     "The file is not a Wallos export: it holds no list of subscriptions."),
    (b"[]", "The file has no subscriptions."),
    (json.dumps([{"Name": f"Sub {n}", "Next Payment": "2027-01-01"}
                 for n in range(imports.MAX_ROWS + 1)]).encode(),
     (f"The file has {imports.MAX_ROWS + 1} subscriptions; at most {imports.MAX_ROWS} can be "
      "imported at once.")),
    (b"[" + b" " * imports.MAX_BYTES + b"]", "The file is larger than 200 KB."),
])
def test_a_file_that_is_no_usable_wallos_export_gets_a_clear_answer(
        browser: Browser, api: Api, data: bytes, message: str) -> None:
    page = upload_export(browser, data)
    assert page.status == 422
    assert message in page.text
    assert titles(api) == []


def test_wallos_csv_export_is_pointed_to_the_json_export(browser: Browser) -> None:
    header = ("Name,Payment Cycle,Next Payment,Renewal,Category,Payment Method,Paid By,Price,"
              "Notes,URL,State,Notifications,Cancellation Date,Active")
    page = upload(browser, (header + "\nNetflix,Monthly,2027-02-14,Automatic,Entertainment,"
                            "PayPal,Li Wei,€12.99,,,Enabled,Enabled,,Yes").encode())
    assert page.status == 422
    assert "Choose “Export as JSON” in Wallos" in page.text
