"""Reading a Wallos export: cycles, prices and currencies, notes, flags, row problems, limits.

The fixtures in ``data/`` are written from Wallos's export format (see ``feedsvc/wallos.py``
for the files of its repository it comes from): ``wallos-export.json`` as ``scripts/
profile.js`` saves it (the list of subscriptions), ``wallos-export-broken.json`` as older
versions saved the endpoint's whole answer, with PHP's escapes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from feedsvc import wallos
from feedsvc.imports import MAX_BYTES, MAX_ROWS, text_size
from feedsvc.wallos import is_export, parse

DATA = Path(__file__).parent / "data"
EXPORT = (DATA / "wallos-export.json").read_bytes()
BROKEN = (DATA / "wallos-export-broken.json").read_bytes()
CHOICES = {"$": "USD", "¥": "CNY"}
GOOD: dict[str, Any] = {
    "Name": "Netflix", "Payment Cycle": "Monthly", "Next Payment": "2027-02-14",
    "Renewal": "Automatic", "Category": "Entertainment", "Payment Method": "Credit Card",
    "Paid By": "Li Wei", "Price": "€12.99", "Notes": "", "URL": "https://www.netflix.com/",
    "State": "Enabled", "Notifications": "Disabled", "Cancellation Date": None, "Active": "Yes",
}


def export(*subscriptions: dict[str, Any]) -> bytes:
    return json.dumps(list(subscriptions), ensure_ascii=False).encode()


def one(changes: dict[str, Any], currencies: dict[str, str] | None = None
        ) -> tuple[dict[str, Any] | None, list[tuple[int, str]]]:
    """The item input of one subscription (GOOD with ``changes``; ``None`` drops a key), and
    its problems as (number, field)."""
    entry = {key: value for key, value in {**GOOD, **changes}.items() if value is not None}
    result = parse(export(entry), currencies)
    found = [(problem.row, problem.field) for problem in result.problems]
    return (result.rows[0][1] if result.rows else None), found


def test_the_export_imports_with_its_cycles_prices_currencies_and_archived_state() -> None:
    result = parse(EXPORT, CHOICES)
    assert result.problems == []
    assert result.source == "wallos"
    assert [(number, row["title"], row["due_date"], row.get("repeat"), row["price"],
             row.get("auto_renew", False), row.get("archived", False))
            for number, row in result.rows] == [
        (1, "Netflix", "2027-02-14", {"every": 1, "unit": "month", "from": "schedule"},
         {"amount": "15.49", "currency": "USD"}, True, False),
        (2, "giffgaff SIM", "2027-05-01", {"every": 6, "unit": "month", "from": "schedule"},
         {"amount": "10.00", "currency": "GBP"}, False, False),
        (3, "MTS Russia", "2027-03-31", {"every": 3, "unit": "month", "from": "schedule"},
         {"amount": "300.00", "currency": "RUB"}, False, False),
        (4, "example.org", "2027-09-01", {"every": 1, "unit": "year", "from": "schedule"},
         {"amount": "88.50", "currency": "HKD"}, True, False),
        (5, "Respekt weekly", "2027-01-08", {"every": 1, "unit": "week", "from": "schedule"},
         {"amount": "59.00", "currency": "CZK"}, True, False),
        (6, "Station parking", "2027-01-05", {"every": 1, "unit": "day", "from": "schedule"},
         {"amount": "4.50", "currency": "CHF"}, False, False),
        (7, "爱奇艺 VIP 会员", "2027-01-20", {"every": 1, "unit": "month", "from": "schedule"},
         {"amount": "25.00", "currency": "CNY"}, True, False),
        (8, "Spotify Family", "2026-11-03", {"every": 1, "unit": "month", "from": "schedule"},
         {"amount": "17.99", "currency": "EUR"}, True, True),
        (9, "Proton Mail", "2028-06-15", {"every": 2, "unit": "year", "from": "schedule"},
         {"amount": "95.76", "currency": "EUR"}, True, False),
    ]
    assert {row["category"] for _number, row in result.rows} == {"subscription"}


def test_notes_keep_wallos_text_and_gain_its_category_payment_method_and_cancellation() -> None:
    rows = dict(parse(EXPORT, CHOICES).rows)
    assert rows[2]["notes"] == ("Top up £10 before the 6-month limit\n"
                                "The number receives the bank's codes\n\n"
                                "Wallos category: Utilities\nPayment method: PayPal")
    assert rows[3]["notes"] == ("Pay in the My MTS app & check the balance\n\n"
                                "Wallos category: Utilities\nPayment method: Bank Transfer")
    assert rows[6]["notes"] == "Wallos category: Transport"  # its payment method is null
    assert rows[8]["notes"] == ("Cancelled after the price rise\n\nWallos category: Music\n"
                                "Payment method: PayPal\nCancellation date: 2026-11-03")
    # Every account's first category, "No category", says nothing worth keeping.
    assert rows[9]["notes"] == "Payment method: Credit Card"


def test_the_lines_added_to_notes_are_in_the_readers_language() -> None:
    rows = dict(parse(EXPORT, CHOICES, "zh-Hans").rows)
    assert rows[7]["notes"] == "连续包月 可随时取消\n\nWallos 分类：娱乐\n付款方式：AliPay"


def test_urls_are_unescaped_and_a_bare_host_is_opened_as_https() -> None:
    rows = dict(parse(EXPORT, CHOICES).rows)
    assert rows[2]["url"] == "https://giffgaff.com/top-up"
    assert rows[3]["url"] == "https://mts.ru/"
    assert "url" not in rows[4]
    item, _ = one({"URL": "http://example.org/?a=1&amp;b=2", "Name": "Tom &amp; Jerry &lt;3"})
    assert item is not None
    assert (item["url"], item["title"]) == ("http://example.org/?a=1&b=2", "Tom & Jerry <3")


def test_the_endpoints_whole_answer_with_phps_escapes_reads_like_the_saved_list() -> None:
    answer = json.dumps({"success": True, "subscriptions": json.loads(EXPORT)})
    assert "\\u20ac" in answer  # "€" as PHP's json_encode writes it
    result = parse(b"\xef\xbb\xbf" + answer.replace("/", "\\/").encode("ascii"), CHOICES)
    assert result.problems == []
    assert result.rows == parse(EXPORT, CHOICES).rows


def test_an_export_of_older_wallos_has_no_cycle_and_a_misspelt_category() -> None:
    item, problems = one({"Payment Cycle": None, "Renewal": None, "Active": None,
                          "Category": None, "Categpry": "Music"})
    assert problems == []
    assert item is not None
    assert "repeat" not in item and "auto_renew" not in item
    assert item["notes"] == "Wallos category: Music\nPayment method: Credit Card"


@pytest.mark.parametrize(("cycle", "every", "unit"), [
    ("Daily", 1, "day"),
    ("Weekly", 1, "week"),
    ("Monthly", 1, "month"),
    ("Yearly", 1, "year"),
    ("Every 2 Weeks", 2, "week"),
    ("Every 18 Months", 18, "month"),
    ("Every 366 Days", 366, "day"),
    ("3 months", 3, "month"),   # getBillingCycle, in English
    ("2 years", 2, "year"),
    ("每月", 1, "month"),        # in Chinese (zh_cn, zh_tw)
    ("每週", 1, "week"),
    ("3 月", 3, "month"),
    ("90 天", 90, "day"),
    ("2 周", 2, "week"),
])
def test_payment_cycles_as_each_wallos_version_words_them(cycle: str, every: int,
                                                          unit: str) -> None:
    item, problems = one({"Payment Cycle": cycle})
    assert problems == []
    assert item is not None
    assert item["repeat"] == {"every": every, "unit": unit, "from": "schedule"}


@pytest.mark.parametrize("cycle", ["One-time", "买断", "買斷", ""])
def test_a_one_time_payment_does_not_repeat(cycle: str) -> None:
    item, problems = one({"Payment Cycle": cycle})
    assert problems == []
    assert item is not None and "repeat" not in item


@pytest.mark.parametrize("cycle", [
    "Quarterly", "Every 0 Months", "Every 1001 Days", "Every 3 Fortnights", "Monthly-ish",
    "Mensuel",
])
def test_a_payment_cycle_that_cannot_be_read_is_a_problem_of_its_row(cycle: str) -> None:
    assert one({"Payment Cycle": cycle}) == (None, [(1, "Payment Cycle")])


@pytest.mark.parametrize(("price", "choices", "amount", "currency"), [
    ("€9.99", {}, "9.99", "EUR"),
    ("€9.9", {}, "9.90", "EUR"),
    ("€10", {}, "10.00", "EUR"),
    ("£0", {}, "0.00", "GBP"),
    ("€0.0001", {}, "0.0001", "EUR"),
    ("R$19.9", {}, "19.90", "BRL"),
    ("R19.9", {}, "19.90", "ZAR"),
    ("Mex$99", {}, "99.00", "MXN"),
    ("HK$88", {}, "88.00", "HKD"),
    ("CHF12.5", {}, "12.50", "CHF"),   # a symbol edited to the code
    ("usd12.5", {}, "12.50", "USD"),
    ("$5", {"$": "AUD"}, "5.00", "AUD"),
    ("¥980", {"¥": "JPY"}, "980.00", "JPY"),
    ("￥25", {"¥": "CNY"}, "25.00", "CNY"),  # the full-width sign
    ("kr 99", {"kr": "SEK"}, "99.00", "SEK"),
])
def test_prices_keep_their_amount_and_the_currency_of_their_symbol(
        price: str, choices: dict[str, str], amount: str, currency: str) -> None:
    item, problems = one({"Price": price}, choices)
    assert problems == []
    assert item is not None
    assert item["price"] == {"amount": amount, "currency": currency}


def test_no_price_is_no_price() -> None:
    item, _ = one({"Price": ""})
    assert item is not None and "price" not in item


@pytest.mark.parametrize(("price", "choices"), [
    ("$9.99", {}),               # a shared symbol, no choice made
    ("$9.99", {"$": "EUR"}),     # a choice the symbol cannot stand for
    ("kr99", {"$": "USD"}),
    ("¤5", {}),                  # a symbol Wallos's currencies do not have
    ("9.99", {}),                # no symbol
    ("€9,99", {}),
    ("€1.0E+15", {}),
    ("€", {}),
    ("€9.12345", {}),            # more decimals than an item's price takes
    ("€1234567890123", {}),      # more digits than an item's price takes
])
def test_a_price_that_names_no_single_currency_is_a_problem_of_its_row(
        price: str, choices: dict[str, str]) -> None:
    assert one({"Price": price}, choices) == (None, [(1, "Price")])


def test_a_shared_symbol_problem_names_its_candidates() -> None:
    problem = parse(export({**GOOD, "Price": "kr99"})).problems[0]
    assert problem.values == {"symbol": "kr", "codes": "DKK, ISK, NOK, SEK"}


@pytest.mark.parametrize(("changes", "archived", "auto_renew"), [
    ({}, False, True),
    ({"Renewal": "Manual"}, False, False),
    ({"State": "Disabled", "Active": "No"}, True, True),
    ({"State": "Disabled", "Active": None}, True, True),   # before "Active" was written
    ({"State": None, "Active": "No"}, True, True),
])
def test_renewal_and_state_become_auto_renew_and_archived(
        changes: dict[str, Any], archived: bool, auto_renew: bool) -> None:
    item, problems = one(changes)
    assert problems == []
    assert item is not None
    assert (item.get("archived", False), item.get("auto_renew", False)) == (archived, auto_renew)


@pytest.mark.parametrize(("key", "value"), [
    ("Name", ""),
    ("Name", "x" * 201),
    ("Next Payment", "2027-02-30"),
    ("Next Payment", "14/02/2027"),
    ("Next Payment", None),
    ("Renewal", "Sometimes"),
    ("State", "Paused"),
    ("Active", "Maybe"),
    ("URL", "javascript:alert(1)"),
    ("Notes", "x" * 5001),
    ("Price", 12.99),           # a hand-edited export: not text
    ("Category", ["Music"]),
])
def test_each_bad_value_is_reported_with_its_subscription_and_key(key: str, value: Any) -> None:
    entry = {**GOOD, key: value} if value is not None else {
        name: text for name, text in GOOD.items() if name != key}
    result = parse(export(GOOD, entry))
    assert [(problem.row, problem.field) for problem in result.problems] == [(2, key)]
    assert result.problems[0].message
    assert result.rows == []


def test_the_broken_export_reports_every_bad_subscription_and_keeps_no_row() -> None:
    result = parse(BROKEN)
    assert [(problem.row, problem.field) for problem in result.problems] == [
        (2, "Next Payment"), (3, "Payment Cycle"), (4, "Price"), (5, "Name"), (6, "Renewal"),
        (7, "Price"), (8, "Next Payment")]
    assert result.rows == []


def test_an_entry_that_is_no_subscription_is_a_problem_of_its_own() -> None:
    result = parse(export(GOOD, "Netflix", GOOD))  # type: ignore[arg-type]
    assert [(problem.row, problem.field) for problem in result.problems] == [(2, "")]


@pytest.mark.parametrize(("data", "message"), [
    (b"{not json", "The file is not a readable JSON file."),
    (b"[1, 2", "The file is not a readable JSON file."),
    (b"[\"\xff\"]", "The file is not a readable JSON file."),
    (b"[" * 100_000, "The file is not a readable JSON file."),  # deeper than the stack
    (b"[" + b"1" * 5000 + b"]", "The file is not a readable JSON file."),  # too many digits
    (b'{"success": false, "message": "Your session expired"}',
     "The file is not a Wallos export: it holds no list of subscriptions."),
    (b'{"success": true, "subscriptions": {"Name": "Netflix"}}',
     "The file is not a Wallos export: it holds no list of subscriptions."),
    (b'"Netflix"', "The file is not a Wallos export: it holds no list of subscriptions."),
    (b"[]", "The file has no subscriptions."),
    (b'{"success": true, "subscriptions": []}', "The file has no subscriptions."),
])
def test_a_file_that_is_not_a_readable_export_is_refused_as_a_whole(data: bytes,
                                                                    message: str) -> None:
    result = parse(data)
    assert [(problem.row, problem.field, problem.message) for problem in result.problems] == [
        (0, "", message)]
    assert result.rows == []


def test_more_subscriptions_than_the_row_limit_are_refused_as_a_whole() -> None:
    many = [{**GOOD, "Name": f"Sub {n}"} for n in range(MAX_ROWS + 1)]
    result = parse(export(*many))
    assert [(problem.row, problem.values) for problem in result.problems] == [
        (0, {"count": MAX_ROWS + 1, "max": MAX_ROWS})]
    assert result.rows == []
    assert len(parse(export(*many[:MAX_ROWS])).rows) == MAX_ROWS


def test_a_file_over_the_size_limit_is_refused_also_once_its_line_breaks_are_crlf() -> None:
    assert [p.message for p in parse(b" " * (MAX_BYTES + 1)).problems] == [
        "The file is larger than %(kb)d KB."]
    # Within the limit as uploaded, over it as the confirm step posts it back ("\r\n").
    data = export(GOOD).replace(b"[", b"[" + b"\n" * (MAX_BYTES // 2), 1)
    assert len(data) <= MAX_BYTES < text_size(data.decode())
    assert [p.message for p in parse(data).problems] == ["The file is larger than %(kb)d KB."]


@pytest.mark.parametrize(("data", "expected"), [
    (EXPORT, True),
    (BROKEN, True),
    (b"\xef\xbb\xbf\r\n  [", True),
    (b"{}", True),
    (b"title,due_date\r\nMTS,2027-03-31", False),
    (b"\xef\xbb\xbftitle,due_date", False),
    (b"", False),
])
def test_an_export_is_told_from_a_csv_file_by_its_first_sign(data: bytes,
                                                             expected: bool) -> None:
    assert is_export(data) is expected


def test_the_shared_symbols_are_those_of_wallos_default_currencies() -> None:
    assert wallos.SHARED_SYMBOLS == {"$": ("AUD", "CAD", "USD"), "¥": ("CNY", "JPY"),
                                     "kr": ("DKK", "ISK", "NOK", "SEK")}
