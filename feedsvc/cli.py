"""The ``feedsvc`` command group (a Flask CLI group over ``create_app``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, with_appcontext

from feedsvc import accounts, backup, feeds
from feedsvc.db import get_engine, new_session
from feedsvc.errors import FeedsvcError

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
@click.option("--locale", type=click.Choice(["en", "zh-Hans"]), default="en", show_default=True,
              help="Language of pages and feeds.")
def user_create(email: str, password_stdin: bool, timezone: str, locale: str) -> None:
    """Create an account with EMAIL, the password read from standard input."""
    password = sys.stdin.readline().rstrip("\r\n")
    with new_session() as session:
        try:
            user = accounts.create_user(session, email, password, timezone, locale)
            feeds.ensure_default_feed(session, user, current_app.config["SECRET_KEY"])
            session.commit()
        except FeedsvcError as error:
            _fail(error)
        click.echo(f"Created {user.email}.", err=True)


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


def init_app(app: Flask) -> None:
    """Register the commands on the app (and so on the ``feedsvc`` group)."""
    for command in (db_group, user_group, token_group, demo_command, export_command,
                    import_command):
        app.cli.add_command(command)
