"""The API tokens page: list, create (shown once) and revoke."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from feedsvc import accounts
from feedsvc.db import get_session
from feedsvc.web import bp, signed_in_user
from feedsvc.web.forms import has_control_characters
from feedsvc.web.i18n import _

MAX_NAME_LENGTH = 100


def _render(new_token: str | None = None, values: dict[str, str] | None = None,
            errors: dict[str, str] | None = None, status: int = 200) -> Response:
    tokens = accounts.list_api_tokens(get_session(), signed_in_user())
    # The page may show a secret: like every page, it is kept out of caches (feedsvc.headers).
    return Response(render_template(
        "settings/tokens.html", tokens=tokens, new_token=new_token,
        values=values or {"name": ""}, errors=errors or {},
    ), status=status, mimetype="text/html")


@bp.get("/tokens")
@login_required
def tokens() -> Response:
    """The account's live API tokens."""
    return _render()


@bp.post("/tokens")
@login_required
def create_token() -> Response:
    """Create a token and show it on this response only; it is never shown again."""
    name = request.form.get("name", "").strip()
    if has_control_characters(name) or len(name) > MAX_NAME_LENGTH:
        return _render(values={"name": name}, errors={"name": _(
            "must be one line of at most %(max)d characters", max=MAX_NAME_LENGTH)}, status=422)
    db = get_session()
    created = accounts.create_api_token(db, signed_in_user(), name or _("API token"))
    db.commit()
    return _render(new_token=created.secret, status=201)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Response:
    """Revoke a token: API calls with it answer 401 from now on."""
    db = get_session()
    accounts.revoke_api_token(db, signed_in_user(), token_id)
    db.commit()
    flash(_("The token was revoked."), "success")
    return redirect(url_for("web.tokens"))
