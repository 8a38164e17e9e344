"""The CSV import through the browser's own file picker: a good file is previewed, then
imported on confirmation; a bad one shows its problems row by row and saves nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from e2e.helpers import Words, sign_up

pytestmark = pytest.mark.e2e

HEADER = "title,due_date,provider,country,repeat_every,repeat_unit,bound_services\r\n"
GOOD_ROWS = ("MTS Russia,2027-03-31,MTS,RU,3,month,Sberbank;Telegram\r\n"
             "香港 CSL 储值卡,2027-01-15,CSL,HK,,,\r\n")
BAD = ("title,due_date,country\r\n"
       "Good one,2027-03-31,RU\r\n"
       ",2027-01-15,HK\r\n"
       "Bad date,2027-02-30,XX\r\n")


def item_titles(page: Any) -> list[str]:
    return page.locator(".item-title").all_inner_texts()


def check_file(page: Any, t: Words, path: Path) -> None:
    page.get_by_label(t("CSV file or Wallos export")).set_input_files(str(path))
    with page.expect_navigation():
        page.get_by_role("button", name=t("Check the file")).click()


@pytest.mark.parametrize(("width", "lang", "encoding"),
                         [("360", "zh", "gbk"), ("1280", "en", "utf-8-sig")])
def test_a_csv_file_is_imported_only_when_every_row_is_right(
    new_context: Any, tmp_path: Path, width: str, lang: str, encoding: str
) -> None:
    t = Words(lang)
    page = new_context(width, lang).new_page()
    sign_up(page, t, f"import-{lang}-{width}@example.com")
    good = tmp_path / ("保号卡.csv" if lang == "zh" else "numbers.csv")
    good.write_bytes((HEADER + GOOD_ROWS).encode(encoding))
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD, encoding="utf-8")

    # A good file: a preview first, nothing saved until confirmed.
    page.get_by_role("link", name=t("Import from CSV")).click()
    page.wait_for_url("/items/import")
    check_file(page, t, good)
    rows = page.locator("tr.import-row")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").nth(1).inner_text() == "MTS Russia"
    assert rows.nth(1).locator("td").nth(1).inner_text() == "香港 CSL 储值卡"
    other = page.context.new_page()
    other.goto("/")
    assert item_titles(other) == []
    other.close()
    with page.expect_navigation():
        page.get_by_role("button", name=t.n("Import %(num)d item", "Import %(num)d items",
                                            2)).click()
    assert page.url.endswith("/")
    assert sorted(item_titles(page)) == ["MTS Russia", "香港 CSL 储值卡"]
    assert any(t.n("Imported %(num)d item.", "Imported %(num)d items.", 2) in text
               for text in page.locator(".flash").all_inner_texts())

    # A bad file: each problem by row and column, no way to confirm, nothing saved.
    page.goto("/items/import")
    check_file(page, t, bad)
    assert page.get_by_role("alert").inner_text() == t(
        "Nothing was imported. Correct these rows in your file and upload it again.")
    problems = [tuple(row.locator("td").all_inner_texts()[:2])
                for row in page.locator("tr.import-problem").all()]
    assert sorted(problems) == [("3", "title"), ("4", "country"), ("4", "due_date")]
    assert page.locator("form[action='/items/import/confirm']").count() == 0
    page.goto("/")
    assert sorted(item_titles(page)) == ["MTS Russia", "香港 CSL 储值卡"]
