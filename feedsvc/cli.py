"""The ``feedsvc`` command group (a Flask CLI group over ``create_app``)."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from feedsvc import accountmail, accounts, backup, feeds, mail
from feedsvc.db import get_engine, new_session
from feedsvc.errors import FeedsvcError
from feedsvc.models import User
from feedsvc.schemas import LOCALES

# Inside the package, so an installed wheel migrates from any directory; in a checkout
# (editable install) `feedsvc db revision` writes its new file here too.
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _create_app() -> Flask:
    from feedsvc import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True,
             add_version_option=False, set_debug_flag=False)
def main() -> None:
    """feedsvc: renewal deadlines as calendar feeds."""


def _fail(error: FeedsvcError) -> None:
    details = "; ".join(f"{name} {message}" for name, message in error.fields.items())
    raise click.ClickException(error.message + (f" ({details})" if details else ""))


def alembic_config(app: Flask):  # type: ignore[no-untyped-def]
    """Alembic's configuration for this app's database, without an alembic.ini."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = get_engine(app)
    return cfg


def upgrade_database(app: Flask, revision: str = "head") -> None:
    """Apply migrations up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(app), revision)


@click.group("db", cls=AppGroup)
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply the migrations up to REVISION (default: head)."""
    upgrade_database(current_app._get_current_object(), revision)  # type: ignore[attr-defined]
    click.echo(f"Database upgraded to {revision}.", err=True)


@db_group.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does.")
def db_revision(message: str) -> None:
    """Write a new migration by comparing the models with the database."""
    from alembic import command

    command.revision(alembic_config(current_app._get_current_object()),  # type: ignore[attr-defined]
                     message=message, autogenerate=True)


@click.group("user", cls=AppGroup)
def user_group() -> None:
    """Accounts."""


@user_group.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (first line).")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone.")
@click.option("--locale", type=click.Choice(LOCALES), default="en", show_default=True,
              help="Language of pages and feeds.")
@click.option("--verified", is_flag=True,
              help="Mark the address confirmed (you vouch for it): reminders go there at once.")
def user_create(email: str, password_stdin: bool, timezone: str, locale: str,
                verified: bool) -> None:
    """Create an account with EMAIL, the password read from standard input."""
    password = sys.stdin.readline().rstrip("\r\n")
    with new_session() as session:
        try:
            user = accounts.create_user(session, email, password, timezone, locale,
                                        verified=verified)
            feeds.ensure_default_feed(session, user, current_app.config["SECRET_KEY"])
            session.commit()
        except FeedsvcError as error:
            _fail(error)
        click.echo(f"Created {user.email}.", err=True)
        if not verified:
            _send_welcome(session, user)


def _send_welcome(session: Session, user: User) -> None:
    """Mail the new account the link that confirms its address, and say where it went."""
    failure = accountmail.send_welcome(session, user)
    if failure is not None:
        click.echo(f"The welcome mail could not be sent: {failure.reason} Once logged in, "
                   "its owner can ask for a new confirmation link on the Reminders page.",
                   err=True)
    elif not mail.mail_configured(current_app.config):
        outbox = mail.outbox_path(current_app.instance_path)
        click.echo("No mail relay is set (FEEDSVC_SMTP_URL): the welcome mail with the "
                   f"confirmation link was written to {outbox}.", err=True)
    else:
        click.echo(f"Sent the welcome mail with the confirmation link to {user.email}.",
                   err=True)


@click.group("token", cls=AppGroup)
def token_group() -> None:
    """API tokens."""


@token_group.command("create")
@click.argument("email")
@click.option("--name", default="CLI", show_default=True, help="A label for the token.")
def token_create(email: str, name: str) -> None:
    """Print a new API token for EMAIL on standard output, and nothing else."""
    with new_session() as session:
        try:
            user = accounts.user_by_email(session, email)
        except FeedsvcError as error:
            _fail(error)
        token = accounts.create_api_token(session, user, name)
        session.commit()
        click.echo(token.secret)


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Create demo@example.com with one item per seed country (password: demo-password)."""
    from feedsvc.demo import DEMO_EMAIL, DEMO_PASSWORD, create_demo

    with new_session() as session:
        created = create_demo(session, current_app.config["SECRET_KEY"])
        session.commit()
    if created:
        click.echo(f"Created {DEMO_EMAIL} (password: {DEMO_PASSWORD}).", err=True)
    else:
        click.echo(f"{DEMO_EMAIL} already exists; left as it is.", err=True)


@click.command("export")
@click.option("--user", "email", metavar="EMAIL", help="Only this account (without the "
              "retired feed addresses, which belong to no account).")
@with_appcontext
def export_command(email: str | None) -> None:
    """Write a backup of every account (or one) as JSON on standard output."""
    with new_session() as session:
        try:
            document = backup.export_backup(session, email)
        except FeedsvcError as error:
            _fail(error)
    json.dump(document, sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    users = len(document["tables"]["users"])
    click.echo(f"Exported {users} account{'s' if users != 1 else ''}.", err=True)


@click.command("import")
@click.argument("backup_file", metavar="FILE", type=click.File("r", encoding="utf-8"))
@with_appcontext
def import_command(backup_file) -> None:  # type: ignore[no-untyped-def]
    """Restore a backup written by `feedsvc export` (FILE, or - for standard input).

    Nothing is imported when an account in it already exists. With the same secret key,
    every feed URL and API token keeps working.
    """
    try:
        document = json.load(backup_file)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise click.ClickException(f"{backup_file.name} is not JSON: {error}") from None
    with new_session() as session:
        try:
            counts = backup.import_backup(session, document)
            session.commit()
        except FeedsvcError as error:
            session.rollback()
            _fail(error)
    click.echo("Imported " + ", ".join(f"{n} {table}" for table, n in counts.items()) + ".",
               err=True)


@click.command("remind")
@click.option("--loop", is_flag=True, help="Run a pass every --every seconds until SIGTERM "
              "(beside gunicorn), instead of one pass.")
@click.option("--every", type=click.IntRange(min=1), default=60, show_default=True,
              metavar="SECONDS", help="Seconds between the starts of two passes with --loop.")
@with_appcontext
def remind_command(loop: bool, every: int) -> None:
    """Send the reminders that are due (and due again), printing one summary line a pass.

    Exits non-zero when the database cannot be reached; with --loop it keeps trying.
    """
    from feedsvc import sender

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not loop:
        try:
            click.echo(sender.run_pass(app).line())
        except (OperationalError, InterfaceError) as error:
            raise click.ClickException(f"The database cannot be reached: {error.orig}") \
                from None
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.is_set():
        started = time.monotonic()
        try:
            click.echo(sender.run_pass(app).line())
        except (OperationalError, InterfaceError) as error:
            click.echo(f"The database cannot be reached; trying again: {error.orig}", err=True)
        stop.wait(max(0.0, every - (time.monotonic() - started)))
    click.echo("Stopped.", err=True)


def init_app(app: Flask) -> None:
    """Register the commands on the app (and so on the ``feedsvc`` group)."""
    for command in (db_group, user_group, token_group, demo_command, export_command,
                    import_command, remind_command):
        app.cli.add_command(command)
