"""Bulk import from a CSV file or a Wallos export: upload, preview with row-by-row errors,
then save all or nothing.

The two kinds of file are told apart by their content (a Wallos export is JSON) and go
through the same steps, limits and messages.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from babel.numbers import get_currency_name
from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from feedsvc import imports, items, wallos
from feedsvc.db import get_session
from feedsvc.errors import ValidationFailed
from feedsvc.web import Page, bp, signed_in_user
from feedsvc.web.i18n import _, get_locale, ngettext, page_locale, period_words
from feedsvc.web.messages import translate

# The form's field for each currency symbol that Wallos's currencies share.
SYMBOL_FIELDS = {"$": "currency_dollar", "¥": "currency_yen", "kr": "currency_krona"}


def problem_texts(result: imports.ImportResult) -> list[dict[str, object]]:
    """The problems of a file in words, one entry per row and field."""
    return [{"row": problem.row, "field": problem.field,
             "message": translate(problem.message, problem.values)}
            for problem in result.problems]


def period_text(repeat: dict[str, Any] | None) -> str:
    """One period of a row's repeat rule, in the words of the item page ("3 months")."""
    if not repeat:
        return ""
    return period_words(repeat["every"], repeat["unit"])


def preview_rows(result: imports.ImportResult) -> list[dict[str, object]]:
    """The rows ready to import as the preview shows them, each due date as a date."""
    # Rows are only ready once every due date passed validation, so each one parses.
    return [{"row": row, "title": data["title"],
             "due_date": dt.date.fromisoformat(data["due_date"]),
             "repeat": period_text(data.get("repeat")),
             "price": "{amount} {currency}".format(**data["price"]) if data.get("price") else "",
             "provider": data.get("provider", ""), "country": data.get("country", ""),
             "archived": data.get("archived", False)}
            for row, data in result.rows]


def chosen_currencies() -> dict[str, str]:
    """The currency the form says each shared symbol of a Wallos export stands for."""
    chosen = {symbol: request.form.get(field, "") for symbol, field in SYMBOL_FIELDS.items()}
    return {symbol: code for symbol, code in chosen.items()
            if code in wallos.SHARED_SYMBOLS[symbol]}


def read_file(data: bytes) -> imports.ImportResult:
    """A CSV file or a Wallos export, read and checked; nothing is saved."""
    if wallos.is_export(data):
        return wallos.parse(data, chosen_currencies(), page_locale())
    return imports.parse(data)


def _symbol_choices() -> list[dict[str, object]]:
    chosen = chosen_currencies()
    return [{"symbol": symbol, "field": field, "chosen": chosen.get(symbol, ""),
             "options": [(code, f"{code} – {get_currency_name(code, locale=get_locale())}")
                         for code in wallos.SHARED_SYMBOLS[symbol]]}
            for symbol, field in SYMBOL_FIELDS.items()]


def _render(result: imports.ImportResult | None = None, file_text: str = "",
            status: int = 200, message: str | None = None) -> Page:
    symbols = _symbol_choices()
    return render_template(
        "imports/import.html", columns=imports.COLUMNS, max_rows=imports.MAX_ROWS,
        max_kb=imports.MAX_BYTES // 1024, rows=preview_rows(result) if result else [],
        source=result.source if result else "csv", file_text=file_text,
        problems=problem_texts(result) if result else [], message=message,
        symbols=symbols, values={choice["field"]: choice["chosen"] for choice in symbols},
        errors={},
    ), status


@bp.get("/items/import/template.csv")
@login_required
def import_template() -> Response:
    """The CSV template: the header row and one example."""
    return Response(imports.template_csv(), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="feedsvc-items.csv"'})


@bp.route("/items/import", methods=["GET", "POST"])
@login_required
def import_items() -> Page:
    """Upload a CSV file or a Wallos export and preview it; nothing is saved at this step."""
    if request.method == "GET":
        return _render()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _render(status=422, message=_("Choose a CSV file or a Wallos export to upload."))
    data = upload.read(imports.MAX_BYTES + 1)
    result = read_file(data)
    if result.problems:
        return _render(result, status=422, message=_(
            "Nothing was imported. Correct these rows in your file and upload it again."))
    # The preview carries the file's text to the confirm step, which checks it again.
    return _render(result, file_text=imports.decode(data) or "")


@bp.post("/items/import/confirm")
@login_required
def confirm_import() -> Page:
    """Save every previewed row in one transaction, or none when any row is bad."""
    result = read_file(request.form.get("csv_text", "").encode("utf-8"))
    if result.problems:
        return _render(result, status=422, message=_(
            "Nothing was imported. Correct these rows in your file and upload it again."))
    db = get_session()
    user = signed_in_user()
    try:
        for _row, data in result.rows:
            items.create_item(db, user, data)
    except ValidationFailed:
        db.rollback()
        return _render(status=422, message=_("Nothing was imported: the file changed."))
    db.commit()
    flash(ngettext("Imported %(num)d item.", "Imported %(num)d items.", len(result.rows)),
          "success")
    return redirect(url_for("web.index"))
