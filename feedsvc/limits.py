"""Throttles (Flask-Limiter): log-in, sign-up and password-reset attempts, and feed requests
per feed URL.

The feed throttle counts the requests that reach the feed route: unknown, replaced or
deleted addresses, and requests the fast path could not answer. Live feeds, which the fast
path (``feedsvc.feed.serve``) answers, never get here: from the kept calendar, or after
building a changed one, which happens once per change however often the URL is polled.

Counters live in Redis when ``FEEDSVC_REDIS_URL`` is set, so every worker and instance
shares them; otherwise in each worker's memory. ``FEEDSVC_RATE_LIMITS=off`` turns every
throttle off (benchmarks, load tests). Each app gets its own ``Limiter``, so two apps in
one process (tests, the CLI) never share counters or the on/off switch.
"""

from __future__ import annotations

from flask import Flask, Response, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user

from feedsvc.accounts import normalise_email
from feedsvc.texts import N_

LIMITER_KEY = "feedsvc.limiter"
# Per client address and e-mail: enough for typing mistakes, far too few for guessing.
LOGIN_LIMIT = "10 per minute"
# Per client address, whatever the e-mail: slows down trying many accounts at once.
LOGIN_ADDRESS_LIMIT = "50 per hour"
SIGNUP_LIMIT = "10 per hour"
# Per account, counting wrong current passwords only (password change, account deletion):
# a borrowed session must not become a way to guess the password.
PASSWORD_CHECK_LIMIT = "10 per hour"
# Per account: links to new addresses, each a mail to an address not yet confirmed.
EMAIL_CHANGE_LIMIT = "10 per hour"
# Per account, the requests that send a mail to an address it names (a new address, a new
# confirmation, a test), on the pages and through the API together.
MAILING_LIMIT = "20 per hour"
# Per feed URL: calendar apps poll every few minutes at most.
FEED_LIMIT = "120 per minute"


def rate_limits_on(app: Flask) -> bool:
    """Whether throttles are on (``FEEDSVC_RATE_LIMITS`` is not ``off``)."""
    return str(app.config.get("FEEDSVC_RATE_LIMITS", "on")).strip().lower() not in (
        "off", "0", "false", "no")


def _address_and_email() -> str:
    email = normalise_email(request.form.get("email", ""))[:254]
    return f"{get_remote_address()}|{email}"


def _signed_in_account() -> str:
    return f"user:{current_user.get_id()}"


def _mailing_account() -> str:
    user = g.get("api_user") or (current_user.user if current_user.is_authenticated else None)
    return f"account:{user.id if user is not None else '-'}"


def note_wrong_password() -> None:
    """Count this request against the account's ``PASSWORD_CHECK_LIMIT``."""
    g.wrong_password = True


def _password_was_wrong(response: Response) -> bool:
    return bool(g.get("wrong_password"))


def _feed_token() -> str:
    return str((request.view_args or {}).get("token", ""))[:64]


def _storage_uri(app: Flask) -> str:
    return app.config.get("FEEDSVC_REDIS_URL") or "memory://"


def init_app(app: Flask) -> Limiter:
    """Create the app's limiter and throttle log-in, sign-up, password resets, address
    changes and the feed URLs."""
    limiter = Limiter(
        key_func=get_remote_address,
        storage_uri=_storage_uri(app),
        key_prefix="feedsvc",
        strategy="moving-window",
        # Redis unreachable: count in memory meanwhile rather than refuse every log-in.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        enabled=rate_limits_on(app),
    )
    limiter.init_app(app)
    app.extensions[LIMITER_KEY] = limiter

    # Flask-Limiter makes each message the description of its 429 error: a msgid for the pages.
    too_many_logins = N_("Too many log-in attempts. Wait a minute and try again.")
    _limit_view(app, "web.login", limiter.limit(
        LOGIN_LIMIT, key_func=_address_and_email, methods=["POST"],
        error_message=too_many_logins))
    _limit_view(app, "web.login", limiter.limit(
        LOGIN_ADDRESS_LIMIT, methods=["POST"], scope="login-address",
        error_message=too_many_logins))
    _limit_view(app, "web.signup", limiter.limit(
        SIGNUP_LIMIT, methods=["POST"],
        error_message=N_("Too many accounts created from this address. Try again later.")))
    password_checks = limiter.shared_limit(
        PASSWORD_CHECK_LIMIT, scope="password-check", key_func=_signed_in_account,
        methods=["POST"], deduct_when=_password_was_wrong,
        error_message=N_("Too many wrong passwords. Wait an hour and try again."))
    for endpoint in ("web.change_password", "web.delete_account", "web.change_email"):
        _limit_view(app, endpoint, password_checks)
    _limit_view(app, "web.change_email", limiter.limit(
        EMAIL_CHANGE_LIMIT, key_func=_signed_in_account, methods=["POST"], scope="email-change",
        error_message=N_("Too many new addresses asked for. Wait an hour and try again.")))
    # Forgotten passwords: like log-in, per address and e-mail, and per address.
    too_many_resets = N_("Too many requests for a new password. Wait a minute and try again.")
    for endpoint in ("web.forgot_password", "web.reset_password"):
        _limit_view(app, endpoint, limiter.limit(
            LOGIN_LIMIT, key_func=_address_and_email, methods=["POST"], scope="reset",
            error_message=too_many_resets))
        _limit_view(app, endpoint, limiter.limit(
            LOGIN_ADDRESS_LIMIT, methods=["POST"], scope="reset-address",
            error_message=too_many_resets))
    mailing = limiter.shared_limit(
        MAILING_LIMIT, scope="mailing", key_func=_mailing_account, methods=["POST"],
        error_message=N_("Too many mails asked for. Wait an hour and try again."))
    for endpoint in ("web.reminders", "web.resend_confirmation", "web.test_channel",
                     "api.create_channel", "api.test_channel"):
        _limit_view(app, endpoint, mailing)
    feed_limit = limiter.shared_limit(
        FEED_LIMIT, scope="feed", key_func=_feed_token,
        error_message=N_("This calendar is being fetched too often. Try again in a minute."))
    _limit_view(app, "feed.calendar", feed_limit)
    return limiter


def _limit_view(app: Flask, endpoint: str, limit) -> None:  # type: ignore[no-untyped-def]
    # Wrapping this app's view function leaves the view modules untouched.
    if endpoint in app.view_functions:
        app.view_functions[endpoint] = limit(app.view_functions[endpoint])

