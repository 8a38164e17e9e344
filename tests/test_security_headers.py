"""Headers on every kind of response, templates that keep the CSP, no internals in errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpers import Api

TEMPLATES = Path(__file__).resolve().parent.parent / "feedsvc" / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)


def test_the_policy_forbids_inline_scripts_framing_and_foreign_origins(client: FlaskClient
                                                                       ) -> None:
    policy = client.get("/login").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


@pytest.mark.parametrize("path", ["/login", "/signup", "/api/v1/openapi.json",
                                  "/api/v1/items", "/no/such/page", "/feeds/" + "A" * 43 + ".ics",
                                  "/static/style.css"])
def test_every_response_carries_the_security_headers(client: FlaskClient, path: str) -> None:
    headers = client.get(path).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    # A feed's address is its secret; a page's may go to the site itself (CSRF over https).
    assert headers["Referrer-Policy"] == ("no-referrer" if path.startswith("/feeds/")
                                          else "same-origin")
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Server" not in headers, "the app names no server, let alone its version"


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")),
                         ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_template_has_inline_script_style_or_event_handlers(template: Path) -> None:
    text = template.read_text()
    assert not INLINE_SCRIPT.search(text), "inline <script>: move it to static/app.js"
    assert not EVENT_HANDLER.search(text), "on…= handler: attach it from static/app.js"
    assert not INLINE_STYLE.search(text), "inline style: move it to static/style.css"
    assert "javascript:" not in text.lower()


def test_a_crash_shows_no_stack_trace_or_versions(app: Flask, client: FlaskClient,
                                                  monkeypatch: Any, api: Api) -> None:
    from feedsvc import items

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internal detail /work/main/feedsvc")

    monkeypatch.setattr(items, "list_items", explode)
    response = api.get("/api/v1/items")
    assert response.status_code == 500
    assert response.json == {"error": {"status": 500,
                                       "message": "Something went wrong on our side."}}
    text = response.get_data(as_text=True)
    for secret in ("Traceback", "secret internal detail", "/work/", "Werkzeug", "Python/"):
        assert secret not in text
    assert "Server" not in response.headers
