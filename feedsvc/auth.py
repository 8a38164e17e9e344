"""Browser sessions through Flask-Login.

A session names the user and their ``session_nonce``; changing the nonce (on a password
change or a log-out) signs every other session out, as sessions live in signed cookies.
Cookies are HttpOnly and SameSite=Lax, and Secure when the service is reached over https.
"""

from __future__ import annotations

from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin
from sqlalchemy import select

from feedsvc.db import get_session
from feedsvc.models import User
from feedsvc.texts import N_

login_manager = LoginManager()
login_manager.login_view = "web.login"
# Flask-Login's own wording, marked so that the pages can translate it.
login_manager.login_message = N_("Please log in to access this page.")
login_manager.session_protection = "basic"


class SessionUser(UserMixin):
    """The Flask-Login view of a stored user."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_nonce}"


@login_manager.user_loader
def load_user(session_id: str) -> SessionUser | None:
    user_id, _, nonce = session_id.partition(":")
    if not user_id.isdigit() or not nonce:
        return None
    user = get_session().scalar(select(User).where(User.id == int(user_id)))
    if user is None or user.session_nonce != nonce:
        return None
    return SessionUser(user)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, marked Secure on every request that came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (
            has_request_context() and request.is_secure)


def init_app(app: Flask) -> None:
    """Attach the login manager and the session cookie settings."""
    https = str(app.config.get("FEEDSVC_BASE_URL") or "").startswith("https://")
    app.config["SESSION_COOKIE_SECURE"] = bool(app.config.get("SESSION_COOKIE_SECURE")) or https
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]
    app.session_interface = SessionInterface()
    login_manager.init_app(app)
