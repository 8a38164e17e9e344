"""Security headers on every response."""

from __future__ import annotations

from flask import Flask, Response

# Scripts, styles and images come from our own origin only (no inline script or style, no
# event handler attributes: tests/test_security_headers.py checks every template); QR codes
# may be data: images. No page may be framed, and forms post to our own origin only.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "img-src 'self' data:",
    "style-src 'self'",
    "script-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
))

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Pages and feeds carry secret URLs: never send them on in a Referer.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000"


def security_headers(app: Flask) -> dict[str, str]:
    """The headers every response of ``app`` carries (HSTS when its public URL is https)."""
    found = dict(HEADERS)
    if str(app.config.get("FEEDSVC_BASE_URL") or "").startswith("https://"):
        found["Strict-Transport-Security"] = HSTS
    return found


def init_app(app: Flask) -> None:
    """Add the headers to every response the app sends."""
    every = security_headers(app)

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in every.items():
            response.headers.setdefault(name, value)
        return response
