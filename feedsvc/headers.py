"""Security headers on every response."""

from __future__ import annotations

from flask import Flask, Response, request

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
    # A page's address never leaves the site in a Referer, yet the site's own form posts
    # carry it: the CSRF check over https compares it with the host. Feeds, whose address is
    # their secret, send none at all (feedsvc.web.feed).
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000"
# Pages and API answers hold personal data: no browser or proxy keeps a copy.
NO_STORE = "no-store"


def security_headers(app: Flask, secure: bool) -> dict[str, str]:
    """The headers every response of ``app`` carries; HSTS when the request came over https
    (``secure``, as told by a trusted proxy) or the public URL is https."""
    found = dict(HEADERS)
    if secure or str(app.config.get("FEEDSVC_BASE_URL") or "").startswith("https://"):
        found["Strict-Transport-Security"] = HSTS
    return found


def init_app(app: Flask) -> None:
    """Add the headers to every response the app sends."""
    plain, secure = security_headers(app, False), security_headers(app, True)

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in (secure if request.is_secure else plain).items():
            response.headers.setdefault(name, value)
        # Feeds and static files say how they may be cached; everything else is personal.
        response.headers.setdefault("Cache-Control", NO_STORE)
        return response
