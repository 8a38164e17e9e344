"""Bulk import of items from a CSV file: decoding, parsing and validation, without saving.

Each row becomes the API's item input and is checked with the API's own rules, so an import
accepts exactly what ``POST /api/v1/items`` accepts. Messages are returned as keys with
values (see ``ImportProblem``) so the web layer can put them in the reader's language.
A Wallos export gives the same result through ``feedsvc.wallos``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from dataclasses import dataclass
from typing import Any

from feedsvc.errors import ValidationFailed
from feedsvc.schemas import ItemFields, error_place, integer_or_text, validate
from feedsvc.texts import N_

# The documented header row, in the order the template uses.
COLUMNS = (
    "title", "category", "provider", "phone_number", "country", "due_date",
    "repeat_every", "repeat_unit", "repeat_from", "grace_days", "price_amount",
    "price_currency", "bound_services", "notes", "url", "auto_renew", "carrier",
)
REQUIRED_COLUMNS = ("title", "due_date")
# Columns that only Wallos's own CSV export has (scripts/profile.js in Wallos's repository
# writes the keys of endpoints/subscriptions/export.php as its header row).
WALLOS_CSV_COLUMNS = {"name", "next payment"}
MAX_ROWS = 500
# Both the file and its text as the preview's confirm step posts it back (UTF-8, with a
# browser's "\r\n" line breaks; ``text_size``), so the two steps agree.
MAX_BYTES = 200 * 1024
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

EXAMPLE_ROW = {
    "title": "MTS Russia", "category": "sim", "provider": "MTS",
    "phone_number": "+7 916 123 45 67", "country": "RU", "due_date": "2027-03-31",
    "repeat_every": "3", "repeat_unit": "month", "repeat_from": "schedule",
    "grace_days": "30", "price_amount": "300.00", "price_currency": "RUB",
    "bound_services": "Sberbank;Telegram", "notes": "Top up in the app.",
    "url": "https://mts.ru/", "auto_renew": "no",
}

_TRUE = {"1", "true", "yes", "y", "是"}
_FALSE = {"", "0", "false", "no", "n", "否"}
# The API's objects that a row spreads over columns, and the column for the object itself.
_SPREAD = {"repeat": "repeat_unit", "price": "price_amount"}


@dataclass(frozen=True)
class ImportProblem:
    """Something wrong with the file: on a line of it (1 is the header), or 0 for the whole.

    ``field`` is a CSV column (or ``""``); ``message`` is a msgid whose ``%(name)s``
    placeholders ``values`` fill, or a cell's validation message as the API words it.
    """

    row: int
    field: str
    message: str
    values: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass
class ImportResult:
    """The rows of a file as API item input, or the problems that stop its import.

    ``source`` is the kind of file: "csv", or "wallos" (whose rows are numbered from 1 for
    the first subscription, and whose fields are the export's keys).
    """

    rows: list[tuple[int, dict[str, Any]]] = dataclasses.field(default_factory=list)
    problems: list[ImportProblem] = dataclasses.field(default_factory=list)
    source: str = "csv"


def too_large() -> ImportProblem:
    """The problem of a file over ``MAX_BYTES``."""
    return ImportProblem(0, "", N_("The file is larger than %(kb)d KB."),
                         {"kb": MAX_BYTES // 1024})


def template_csv() -> bytes:
    """The downloadable template: header and one example row, UTF-8 with a BOM for Excel."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerow(EXAMPLE_ROW)
    return out.getvalue().encode("utf-8-sig")


def decode(data: bytes) -> str | None:
    """The file's text: UTF-8 (with or without a BOM), else GB18030 (what Chinese Excel
    writes, a superset of GBK); ``None`` when it is neither."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def text_size(text: str) -> int:
    """The size of the text as a form posts it: UTF-8, with "\r\n" line breaks."""
    return len(_LINE_BREAK.sub("\r\n", text).encode("utf-8"))


def _split_services(value: str) -> list[str]:
    return [part.strip() for part in re.split(r"[;|]", value) if part.strip()]


def row_input(cells: dict[str, str]) -> tuple[dict[str, Any], list[ImportProblem]]:
    """One CSV row (column → stripped text) as API item input, and the cells it cannot read."""
    problems: list[ImportProblem] = []
    data: dict[str, Any] = {"title": cells.get("title", ""), "due_date": cells.get("due_date", "")}
    for name in ("category", "provider", "carrier", "phone_number", "url"):
        if cells.get(name):
            data[name] = cells[name]
    if cells.get("country"):
        data["country"] = cells["country"].upper()
    if cells.get("notes"):
        data["notes"] = cells["notes"]
    if cells.get("grace_days"):
        data["grace_days"] = integer_or_text(cells["grace_days"])
    if cells.get("repeat_unit") or cells.get("repeat_every"):
        data["repeat"] = {"every": integer_or_text(cells.get("repeat_every") or "1"),
                          "unit": cells.get("repeat_unit", "").lower(),
                          "from": (cells.get("repeat_from") or "schedule").lower()}
    if cells.get("price_amount") or cells.get("price_currency"):
        data["price"] = {"amount": cells.get("price_amount", ""),
                         "currency": cells.get("price_currency", "").upper()}
    if cells.get("bound_services"):
        data["bound_services"] = _split_services(cells["bound_services"])
    flag = cells.get("auto_renew", "").lower()
    if flag in _TRUE:
        data["auto_renew"] = True
    elif flag not in _FALSE:
        problems.append(ImportProblem(0, "auto_renew", N_("must be yes or no")))
    return data, problems


def _column(path: str, message: str) -> tuple[str, str]:
    """The CSV column behind an API error path ("repeat.every" → "repeat_every"; "" for none),
    and the message."""
    place = error_place(path, message, COLUMNS)
    if place.field in _SPREAD:
        part = place.part.split(".")[0]
        return (f"{place.field}_{part}" if part else _SPREAD[place.field]), place.message
    return (place.field if place.field in COLUMNS else ""), place.message


def parse(data: bytes) -> ImportResult:
    """Read and validate a whole CSV file; its rows are usable only when no problem is found."""
    result = ImportResult()
    if len(data) > MAX_BYTES:
        result.problems.append(too_large())
        return result
    text = decode(data)
    if text is None:
        result.problems.append(ImportProblem(
            0, "", N_("The file is not UTF-8 or GBK text. Save it as “CSV UTF-8”.")))
        return result
    if text_size(text) > MAX_BYTES:
        # Chinese text in GBK grows by half in UTF-8, in which the confirm step posts it.
        result.problems.append(ImportProblem(0, "", N_(
            "Converted to UTF-8, the file is larger than %(kb)d KB. Split it into smaller "
            "files."), {"kb": MAX_BYTES // 1024}))
        return result
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        # Numbered as a spreadsheet shows them; blank lines are skipped but still counted.
        lines = [(reader.line_num, line) for line in reader if any(c.strip() for c in line)]
    except csv.Error:
        result.problems.append(ImportProblem(0, "", N_("The file is not a readable CSV file.")))
        return result
    if not lines:
        result.problems.append(ImportProblem(0, "", N_("The file is empty.")))
        return result
    header_row, header_cells = lines[0]
    header = [name.strip().lower() for name in header_cells]
    if WALLOS_CSV_COLUMNS <= set(header):
        result.problems.append(ImportProblem(header_row, "", N_(
            "This looks like Wallos's CSV export. Choose “Export as JSON” in Wallos and upload "
            "that file instead: it keeps every field as it is.")))
        return result
    unknown = [name for name in header if name not in COLUMNS]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    for name in unknown:
        result.problems.append(ImportProblem(header_row, name, N_("is not a known column")))
    for name in missing:
        result.problems.append(ImportProblem(header_row, name, N_("is a required column")))
    if len(set(header)) != len(header):
        result.problems.append(ImportProblem(header_row, "", N_("A column appears twice.")))
    if result.problems:
        return result
    body = lines[1:]
    if not body:
        result.problems.append(ImportProblem(0, "", N_("The file has no rows under its header.")))
        return result
    if len(body) > MAX_ROWS:
        result.problems.append(ImportProblem(
            0, "", N_("The file has %(count)d rows; at most %(max)d can be imported at once."),
            {"count": len(body), "max": MAX_ROWS}))
        return result
    for index, line in body:
        if len(line) > len(header):
            result.problems.append(ImportProblem(index, "", N_("has more cells than the header")))
            continue
        cells = {name: cell.strip() for name, cell in zip(header, line)}
        item, problems = row_input(cells)
        result.problems.extend(ImportProblem(index, p.field, p.message, p.values)
                               for p in problems)
        try:
            validate(ItemFields, item)
        except ValidationFailed as error:
            for path, message in (error.fields or {}).items():
                result.problems.append(ImportProblem(index, *_column(path, message)))
        result.rows.append((index, item))
    if result.problems:
        result.rows = []
    return result
