"""Server-rendered pages: thin views over the domain modules.

The pages work without JavaScript; ``static/app.js`` only adds conveniences. Every form
carries a CSRF token, checked globally by Flask-WTF.
"""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Flask
from flask.blueprints import BlueprintSetupState
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.wrappers import Response

from feedsvc.errors import error_response
from feedsvc.models import User
from feedsvc.web.i18n import N_, install
from feedsvc.web.messages import translate

bp = Blueprint("web", __name__)

# What a view returns: a page, a page with its status, or a redirect.
Page = str | tuple[str, int] | Response


def signed_in_user() -> User:
    """The stored user behind the browser session (views are ``login_required``)."""
    return current_user.user  # type: ignore[no-any-return]


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    install(cast(Flask, state.app))
    # error.html shows the message of feedsvc.errors (a msgid and its values) with it.
    state.app.jinja_env.globals["translate"] = translate


@bp.app_errorhandler(CSRFError)
def csrf_failed(error: CSRFError) -> Response:
    """A missing or stale CSRF token: say so in words, not as Flask-WTF's technical reason."""
    return error_response(400, N_("The form expired; please try again."))


# The page modules attach their views to ``bp``, so they are imported once it exists.
import feedsvc.web.account  # account mail's pages: confirm, reset, new address
import feedsvc.web.act  # noqa: F401 - the action links' pages
from feedsvc.web import auth, calendars, items, settings, tokens  # noqa: F401
from feedsvc.web import imports as import_pages  # noqa: F401 - the CSV import
from feedsvc.web import reminders as reminder_pages  # noqa: F401 - Reminders, unsubscribe
from feedsvc.web import renewals as renewal_pages  # noqa: F401 - renew and undo an item
