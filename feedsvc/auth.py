"""Browser sessions through Flask-Login.

A session names the user and their ``session_nonce``; changing the nonce (on a password
change) signs every other session out.
"""

from __future__ import annotations

from flask import Flask
from flask_login import LoginManager, UserMixin
from sqlalchemy import select

from feedsvc.db import get_session
from feedsvc.models import User

login_manager = LoginManager()
login_manager.login_view = "web.login"
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


def init_app(app: Flask) -> None:
    """Attach the login manager."""
    login_manager.init_app(app)
