"""Server-rendered pages: thin views over the domain modules."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("web", __name__)


@bp.get("/")
def index() -> str:
    return "feedsvc"


@bp.get("/login")
def login() -> str:
    return "login"
