"""Reading a CSV file of items: encodings, header, row-by-row problems, limits."""

from __future__ import annotations

import csv
import io

import pytest

from feedsvc import imports
from feedsvc.imports import MAX_ROWS, parse

HEADER = ",".join(imports.COLUMNS)
GOOD_ROW = ("MTS Russia,sim,MTS,+7 916 123 45 67,ru,2027-03-31,3,month,schedule,30,300.00,rub,"
            "Sberbank;Telegram|Gosuslugi,Top up in the app.,https://mts.ru/,yes")


def csv_bytes(*rows: str, encoding: str = "utf-8") -> bytes:
    return "\r\n".join(rows).encode(encoding)


def problems(data: bytes) -> list[tuple[int, str]]:
    return [(problem.row, problem.field) for problem in parse(data).problems]


def test_a_good_file_becomes_the_apis_item_input() -> None:
    result = parse(csv_bytes(HEADER, GOOD_ROW, "Monaco,,Monaco Telecom,,MC,2027-01-05"))
    assert result.problems == []
    assert result.rows == [
        (2, {"title": "MTS Russia", "category": "sim", "provider": "MTS",
             "phone_number": "+7 916 123 45 67", "country": "RU", "due_date": "2027-03-31",
             "repeat": {"every": 3, "unit": "month", "from": "schedule"}, "grace_days": 30,
             "price": {"amount": "300.00", "currency": "RUB"},
             "bound_services": ["Sberbank", "Telegram", "Gosuslugi"],
             "notes": "Top up in the app.", "url": "https://mts.ru/", "auto_renew": True}),
        (3, {"title": "Monaco", "provider": "Monaco Telecom", "country": "MC",
             "due_date": "2027-01-05"}),
    ]


def test_the_template_is_utf8_with_a_bom_and_its_example_row_is_valid() -> None:
    template = imports.template_csv()
    assert template.startswith(b"\xef\xbb\xbf")
    assert template.decode("utf-8-sig").splitlines()[0] == HEADER
    result = parse(template)
    assert result.problems == [] and len(result.rows) == 1


def test_a_byte_order_mark_is_not_part_of_the_first_column_name() -> None:
    result = parse(b"\xef\xbb\xbf" + csv_bytes("title,due_date", "MTS,2027-03-31"))
    assert result.problems == []
    assert result.rows[0][1]["title"] == "MTS"


def test_a_gbk_file_from_chinese_excel_is_read() -> None:
    data = csv_bytes("title,due_date,notes", "俄罗斯 MTS 保号卡,2027-03-31,每三个月充值",
                     encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = parse(data)
    assert result.problems == []
    assert result.rows[0][1]["title"] == "俄罗斯 MTS 保号卡"
    assert result.rows[0][1]["notes"] == "每三个月充值"


def test_columns_may_come_in_any_order_and_header_case_is_ignored() -> None:
    result = parse(csv_bytes("Due_Date,TITLE", "2027-03-31,MTS"))
    assert result.rows == [(2, {"title": "MTS", "due_date": "2027-03-31"})]


@pytest.mark.parametrize(("header", "expected"), [
    ("title", [(1, "due_date")]),
    ("due_date,provider", [(1, "title")]),
    ("title,due_date,colour", [(1, "colour")]),
    ("title,due_date,title", [(1, "")]),
])
def test_missing_unknown_or_repeated_header_columns_are_refused(
    header: str, expected: list[tuple[int, str]]
) -> None:
    data = csv_bytes(header, ",".join(["x"] * len(header.split(","))))
    assert problems(data) == expected
    assert parse(data).rows == []


@pytest.mark.parametrize(("column", "value"), [
    ("title", ""),
    ("category", "car"),
    ("country", "XX"),
    ("due_date", "31.03.2027"),
    ("due_date", "2027-02-30"),
    ("repeat_every", "three"),
    ("repeat_unit", "fortnight"),
    ("repeat_from", "payday"),
    ("grace_days", "-1"),
    ("grace_days", "400"),
    ("price_amount", "a lot"),
    ("price_currency", "EURO"),
    ("url", "ftp://mts.ru/"),
    ("auto_renew", "maybe"),
])
def test_each_bad_cell_is_reported_with_its_row_and_column(column: str, value: str) -> None:
    cells = dict(zip(imports.COLUMNS, next(csv.reader([GOOD_ROW]))))
    cells[column] = value
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=imports.COLUMNS)
    writer.writeheader()
    writer.writerow(dict(zip(imports.COLUMNS, next(csv.reader([GOOD_ROW])))))
    writer.writerow(cells)
    result = parse(out.getvalue().encode())
    assert [(p.row, p.field) for p in result.problems] == [(3, column)]
    assert result.problems[0].message
    assert result.rows == []


def test_every_bad_row_is_reported_not_only_the_first() -> None:
    data = csv_bytes("title,due_date", "A,2027-01-01", ",2027-01-01", "", "C,tomorrow")
    assert problems(data) == [(3, "title"), (5, "due_date")]


def test_a_row_longer_than_the_header_is_refused() -> None:
    assert problems(csv_bytes("title,due_date", "A,2027-01-01,extra")) == [(2, "")]


def test_more_than_the_row_limit_is_refused_as_a_whole() -> None:
    rows = [f"Item {n},2027-01-01" for n in range(MAX_ROWS + 1)]
    result = parse(csv_bytes("title,due_date", *rows))
    assert [(p.row, p.values) for p in result.problems] == [
        (0, {"count": MAX_ROWS + 1, "max": MAX_ROWS})]
    assert result.rows == []
    assert len(parse(csv_bytes("title,due_date", *rows[:MAX_ROWS])).rows) == MAX_ROWS


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n\r\n", b" , \r\n"])
def test_an_empty_file_is_refused(data: bytes) -> None:
    assert problems(data) == [(0, "")]


def test_a_header_without_rows_is_refused() -> None:
    assert problems(csv_bytes(HEADER)) == [(0, "")]


def test_a_file_that_is_neither_utf8_nor_gbk_is_refused() -> None:
    assert problems(b"title,due_date\r\n\xff\xfe\xff,2027-01-01") == [(0, "")]


def test_a_file_over_the_size_limit_is_refused() -> None:
    assert problems(b"x" * (imports.MAX_BYTES + 1)) == [(0, "")]


@pytest.mark.parametrize(("text", "size"), [
    ("", 0), ("a,b", 3), ("a\nb", 4), ("a\r\nb", 4), ("a\rb", 4), ("a\n\nb", 6),
    ("俄", 3), ("俄\n", 5),
])
def test_the_size_is_counted_as_a_form_posts_the_text(text: str, size: int) -> None:
    assert imports.text_size(text) == size


def test_a_carrier_column_names_a_preset() -> None:
    header = "title,due_date,carrier\n"
    good = imports.parse((header + "giffgaff,2027-03-01,giffgaff\nMTS,2027-03-01,\n").encode())
    assert good.problems == []
    assert [data.get("carrier") for _, data in good.rows] == ["giffgaff", None]
    bad = imports.parse((header + "Three,2027-03-01,three\n").encode())
    assert [(problem.row, problem.field) for problem in bad.problems] == [(2, "carrier")]
