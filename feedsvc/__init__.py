"""feedsvc: renewal deadlines as calendar feeds with alarms ahead of each due date."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from feedsvc import baseurl, config, db, errors, headers, health, mail, outbound, presets
from feedsvc.bodylimit import ChunkedBodyLimit
from feedsvc.proxy import TrustedProxies

csrf = CSRFProtect()


class IdConverter(IntegerConverter):
    """``<int:…>`` in routes: at most 18 digits, which any database integer holds.

    A longer number matches no route (404) rather than overflowing the database driver. The
    length is checked by the pattern, not by a ``max``: Werkzeug checks a rule's methods
    before its values, so a value refused by ``max`` would answer 405 on some routes.
    """

    regex = r"\d{1,18}"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then instance/config.py, then environment, then test_config."""
    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(
        "FEEDSVC_INSTANCE_PATH")
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path or None)
    config.make_private_folder(app.instance_path)
    app.config.from_mapping(config.defaults())
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_mapping(config.from_environment())
    if test_config is not None:
        app.config.from_mapping(test_config)

    if not app.config.get("FEEDSVC_DATABASE_URL"):
        app.config["FEEDSVC_DATABASE_URL"] = config.default_database_url(app.instance_path)
    app.config["FEEDSVC_DATABASE_URL"] = config.normalise_database_url(
        app.config["FEEDSVC_DATABASE_URL"])
    if not app.config.get("FEEDSVC_SECRET_KEY"):
        app.config["FEEDSVC_SECRET_KEY"] = config.load_or_create_secret(app.instance_path)
    app.config["SECRET_KEY"] = app.config["FEEDSVC_SECRET_KEY"]
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["FEEDSVC_MAX_BODY_BYTES"])
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    app.config["TRUSTED_HOSTS"] = baseurl.trusted_hosts(app.config)
    mail.mail_settings(app.config)  # a malformed relay URL or sender stops the start here
    # A bad entry stops the start too, naming it; so does a preset without its source.
    app.config["CHANNEL_ALLOW_HOSTS"] = outbound.AllowList.parse(
        app.config["FEEDSVC_CHANNEL_ALLOW_HOSTS"])
    presets.all_presets()
    app.url_map.converters["int"] = IdConverter
    # The API authenticates with bearer tokens, not cookies, so it needs no CSRF token.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = True

    db.init_app(app)
    errors.register(app)
    headers.init_app(app)
    health.init_app(app)
    csrf.init_app(app)

    from feedsvc import auth
    from feedsvc.api import bp as api_bp
    from feedsvc.web import bp as web_bp
    from feedsvc.web.feed import bp as feed_bp

    auth.init_app(app)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)
    app.register_blueprint(web_bp)
    app.register_blueprint(feed_bp)

    from feedsvc import limits

    limits.init_app(app)

    from feedsvc import cli
    from feedsvc.feed import serve

    cli.init_app(app)
    serve.install(app)
    # Around it all: a length for bodies sent without one, and outermost the client's address
    # and scheme as trusted proxies tell them, known before anything else runs.
    limit, proxies = app.config["MAX_CONTENT_LENGTH"], app.config["FEEDSVC_FORWARDED_ALLOW_IPS"]
    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, limit)  # type: ignore[method-assign]
    app.wsgi_app = TrustedProxies(app.wsgi_app, proxies)  # type: ignore[method-assign]
    return app
