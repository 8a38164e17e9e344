"""The public origin used in links that leave the app (feed URLs, links inside events)."""

from __future__ import annotations

from flask import current_app, request


def public_base_url() -> str:
    """``FEEDSVC_BASE_URL`` when set, otherwise the origin of the current request."""
    configured = current_app.config.get("FEEDSVC_BASE_URL")
    return (configured or request.host_url).rstrip("/")
