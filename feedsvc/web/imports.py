"""Bulk import from CSV: upload, preview with row-by-row errors, then save all or nothing."""

from __future__ import annotations

import datetime as dt

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from feedsvc import imports, items
from feedsvc.db import get_session
from feedsvc.errors import ValidationFailed
from feedsvc.web import Page, bp, signed_in_user
from feedsvc.web.i18n import _, ngettext
from feedsvc.web.messages import translate


def problem_texts(result: imports.ImportResult) -> list[dict[str, object]]:
    """The problems of a file in words, one entry per row and field."""
    return [{"row": problem.row, "field": problem.field,
             "message": translate(problem.message, problem.values)}
            for problem in result.problems]


def preview_rows(result: imports.ImportResult) -> list[dict[str, object]]:
    """The rows ready to import as the preview shows them, each due date as a date."""
    # Rows are only ready once every due date passed validation, so each one parses.
    return [{"row": row, "title": data["title"],
             "due_date": dt.date.fromisoformat(data["due_date"]),
             "provider": data.get("provider", ""), "country": data.get("country", "")}
            for row, data in result.rows]


def _render(result: imports.ImportResult | None = None, csv_text: str = "",
            status: int = 200, message: str | None = None) -> Page:
    return render_template(
        "imports/import.html", columns=imports.COLUMNS, max_rows=imports.MAX_ROWS,
        max_kb=imports.MAX_BYTES // 1024, rows=preview_rows(result) if result else [],
        csv_text=csv_text, problems=problem_texts(result) if result else [], message=message,
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
    """Upload a CSV file and preview it; nothing is saved at this step."""
    if request.method == "GET":
        return _render()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _render(status=422, message=_("Choose a CSV file to upload."))
    data = upload.read(imports.MAX_BYTES + 1)
    result = imports.parse(data)
    if result.problems:
        return _render(result, status=422, message=_(
            "Nothing was imported. Correct these rows in your file and upload it again."))
    # The preview carries the file's text to the confirm step, which checks it again.
    return _render(result, csv_text=imports.decode(data) or "")


@bp.post("/items/import/confirm")
@login_required
def confirm_import() -> Page:
    """Save every previewed row in one transaction, or none when any row is bad."""
    result = imports.parse(request.form.get("csv_text", "").encode("utf-8"))
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
