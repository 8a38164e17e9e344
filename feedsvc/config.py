"""Every setting once: its name, its default and what it does.

Settings are read in this order, later ones winning: the defaults below,
``instance/config.py``, ``FEEDSVC_*`` environment variables, then the
``test_config`` mapping handed to ``create_app``.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One configuration key, as documented in the README."""

    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "FEEDSVC_INSTANCE_PATH",
        None,
        "Folder holding `config.py`, the generated secret key and the default SQLite file. "
        "Default: `instance/` in a checkout, `<venv>/var/feedsvc-instance/` when installed "
        "from a wheel. Read from the environment only.",
    ),
    Setting(
        "FEEDSVC_DATABASE_URL",
        None,
        "SQLAlchemy URL of the database. Default: a SQLite file `feedsvc.sqlite3` in `instance/`. "
        "A plain `postgresql://` URL uses psycopg 3.",
    ),
    Setting(
        "FEEDSVC_SECRET_KEY",
        None,
        "Key that signs sessions and derives feed URLs. Generated once into `instance/secret_key` "
        "when unset; keep it with your backups, or every feed URL changes.",
    ),
    Setting(
        "FEEDSVC_BASE_URL",
        None,
        "Public origin used in feed links, e.g. `https://feeds.example.org`. Otherwise taken "
        "from the request.",
    ),
    Setting(
        "FEEDSVC_TRUSTED_HOSTS",
        None,
        "Comma-separated host names the service answers to (`.example.org` also admits its "
        "subdomains); a request for any other `Host` gets 400. Default: any host when "
        "`FEEDSVC_BASE_URL` is set (links then never use the request's `Host`), otherwise "
        "`localhost`, `127.0.0.1` and `[::1]`.",
    ),
    Setting(
        "FEEDSVC_FORWARDED_ALLOW_IPS",
        "127.0.0.1",
        "Comma-separated addresses or networks (`10.0.0.0/8`) of the reverse proxies trusted "
        "for `X-Forwarded-For` and `X-Forwarded-Proto`, or `*` for any; from anyone else "
        "those headers are ignored. The client's address (throttles, logs) and scheme "
        "(secure cookies, HSTS, CSRF) come from them.",
    ),
    Setting(
        "FEEDSVC_REDIS_URL",
        None,
        "Optional Redis URL for rate limits shared across instances.",
    ),
    Setting(
        "FEEDSVC_RATE_LIMITS",
        "on",
        "`on` or `off`; `off` disables every throttle (for benchmarks and load tests).",
    ),
    Setting(
        "FEEDSVC_MAX_BODY_BYTES",
        256 * 1024,
        "Largest request body accepted; larger bodies get 413.",
    ),
    Setting(
        "FEEDSVC_SMTP_URL",
        None,
        "Mail relay for reminders and account mail: `smtp://[user:password@]host[:port]` "
        "(plain, port 25 by default, for a local relay), `smtp+starttls://…` (STARTTLS "
        "required, port 587) or `smtps://…` (implicit TLS, port 465); user and password "
        "percent-encoded. Unset: every mail is written as an `.eml` file to `instance/outbox/` "
        "and logged, and the pages say that mail is not set up.",
    ),
    Setting(
        "FEEDSVC_MAIL_FROM",
        None,
        "Sender address of every mail. Default: `feedsvc@` the host of `FEEDSVC_BASE_URL`, "
        "or `feedsvc@localhost` without one.",
    ),
    Setting(
        "FEEDSVC_CHANNEL_ALLOW_HOSTS",
        None,
        "Comma-separated hosts that push channels may reach although they are not public: an "
        "IP address (just that address), a CIDR network (`192.168.1.0/24`) or a host name "
        "(URLs that name that host), e.g. a self-hosted ntfy on the LAN. Every other "
        "loopback, private, link-local, multicast or metadata address is refused, when a "
        "channel is added and again at each send.",
    ),
)

SQLITE_FILENAME = "feedsvc.sqlite3"
SECRET_FILENAME = "secret_key"


def defaults() -> dict[str, Any]:
    """The default value of every setting."""
    return {setting.name: setting.default for setting in SETTINGS}


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The settings given as environment variables."""
    environ = dict(os.environ if environ is None else environ)
    return {s.name: environ[s.name] for s in SETTINGS if environ.get(s.name)}


def default_database_url(instance_path: str) -> str:
    """The embedded default: a SQLite file in the instance folder."""
    return "sqlite:///" + str(Path(instance_path) / SQLITE_FILENAME)


def narrow_to_owner(path: str | Path, mode: int) -> None:
    """Take away what group and others may do with a file or folder of ours (made open
    by an earlier version or a wide umask); one someone else owns is left as it is."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return
    if status.st_uid == os.getuid() and status.st_mode & 0o077:
        os.chmod(path, mode)


def make_private_folder(path: str) -> None:
    """Create the instance folder, which holds the secret key and the SQLite database,
    for its owner only (0700)."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    narrow_to_owner(path, 0o700)


def load_or_create_secret(instance_path: str) -> str:
    """Read the generated secret key, creating it (mode 0600) on first use."""
    path = Path(instance_path) / SECRET_FILENAME
    narrow_to_owner(path, 0o600)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: when two workers start at once, exactly one writes and both read the same key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def normalise_database_url(url: str) -> str:
    """Let a plain ``postgresql://`` URL select psycopg 3 rather than psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
