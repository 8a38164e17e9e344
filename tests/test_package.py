"""A wheel built from the repository is complete: installed with no checkout around, it
migrates, seeds the demo account and serves its calendar with the production settings.

The wheel is installed into a throwaway virtual environment that sees the dependencies of the
project's own environment through a ``.pth`` file, so nothing is downloaded. The ``.pth``
files of that environment are then not processed, so the editable install's finder stays
off and ``feedsvc`` can only come from the wheel.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import runpy
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from gunicorn.config import Config

import feedsvc.gunicorn_config
from feedsvc.demo import DEMO_EMAIL, demo_items

from helpers.servers import ROOT, fetch, free_ports, running

COMMAND_TIMEOUT = 120  # seconds for any one command (a build, an install, a migration)

# What a build never reads: tools' caches and environments, generated output, local data.
NOT_BUILD_INPUTS = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
    ".hypothesis", ".mypy_cache", ".ruff_cache", ".pytest_cache", "test-output", "instance")


@dataclass(frozen=True)
class Wheel:
    path: Path
    source: Path  # the copy of the repository it was built from


@dataclass(frozen=True)
class Installed:
    venv: Path
    site_packages: Path
    env: dict[str, str]  # a child's environment: no FEEDSVC_* settings, no PYTHONPATH

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command to completion within the timeout; its standard output, or a failure."""
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=COMMAND_TIMEOUT, check=False)
    assert result.returncode == 0, (
        f"{args} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Wheel:
    """The wheel of the repository as it is now, built without network.

    It is built from a copy: building in the checkout would write ``build/`` there, which
    concurrent runs would share and whose leftovers (files since deleted) would be packed.
    """
    folder = tmp_path_factory.mktemp("wheel")
    source = folder / "source"
    shutil.copytree(ROOT, source, ignore=NOT_BUILD_INPUTS)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--quiet", "-w", str(folder / "dist"), str(source)],
        cwd=folder)
    (path,) = (folder / "dist").glob("feedsvc-*.whl")
    return Wheel(path, source)


def test_the_wheel_holds_everything_the_package_reads_at_run_time(wheel: Wheel) -> None:
    with zipfile.ZipFile(wheel.path) as archive:
        packed = set(archive.namelist())
    for name in ("feedsvc/templates/base.html", "feedsvc/static/style.css",
                 "feedsvc/static/app.js",
                 "feedsvc/translations/zh_Hans/LC_MESSAGES/messages.mo",
                 "feedsvc/migrations/env.py", "feedsvc/migrations/script.py.mako",
                 "feedsvc/migrations/versions/0001_initial_schema.py",
                 "feedsvc/gunicorn_config.py"):
        assert name in packed
    package = wheel.source / "feedsvc"
    missing = sorted(path.relative_to(wheel.source).as_posix()
                     for path in package.rglob("*") if path.is_file()
                     if path.relative_to(wheel.source).as_posix() not in packed)
    assert missing == []


@pytest.fixture(scope="module")
def installed(wheel: Wheel, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A fresh virtual environment with the wheel installed, seeing our dependencies."""
    venv = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--without-pip", "--clear", str(venv)], cwd=venv)
    python = str(venv / "bin" / "python")
    # Installed before the dependencies become visible, so pip never meets the editable
    # install of the project's environment.
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
         "--disable-pip-version-check", "--quiet", str(wheel.path)], cwd=venv)
    site_packages = Path(run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        cwd=venv).strip())
    ours = dict.fromkeys(sysconfig.get_path(kind) for kind in ("purelib", "platlib"))
    (site_packages / "feedsvc-test-dependencies.pth").write_text("\n".join(ours) + "\n")
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("FEEDSVC_", "PYTHON", "FLASK_", "VIRTUAL_ENV"))
           and name != "WEB_CONCURRENCY"}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return Installed(venv, site_packages, env)


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working directory with no checkout in or above it."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    assert ROOT not in folder.resolve().parents
    return folder


def test_the_package_is_imported_from_the_wheel_not_the_checkout(
        installed: Installed, elsewhere: Path) -> None:
    report = json.loads(run([installed.bin("python"), "-c", (
        "import json, sys, feedsvc, flask; print(json.dumps("
        "{'feedsvc': feedsvc.__file__, 'path': sys.path}))")], cwd=elsewhere,
        env=installed.env))
    assert Path(report["feedsvc"]).resolve().parent.parent == installed.site_packages.resolve()
    paths = {(elsewhere / entry).resolve() for entry in report["path"]}
    assert ROOT not in paths


@contextmanager
def serving(installed: Installed, cwd: Path) -> Iterator[tuple[str, Path]]:
    """``gunicorn -c python:feedsvc.gunicorn_config`` alone, on a free port of 127.0.0.1.

    Yields its origin and its log once it answers; it must then stop cleanly on SIGTERM.
    """
    (port,) = free_ports(1)
    origin = f"http://127.0.0.1:{port}"
    log = cwd / "gunicorn.log"
    # gunicorn's control socket goes there rather than into the home folder.
    with tempfile.TemporaryDirectory(prefix="feedsvc-run-") as runtime:
        env = {**installed.env, "FEEDSVC_BIND": f"127.0.0.1:{port}",
               "FEEDSVC_BASE_URL": origin, "WEB_CONCURRENCY": "1", "XDG_RUNTIME_DIR": runtime}
        # As its console script would (the dependencies' scripts are not in this venv).
        with running([installed.bin("python"), "-m", "gunicorn",
                      "-c", "python:feedsvc.gunicorn_config"], log, env,
                     origin + "/healthz", cwd=cwd):
            yield origin, log


def test_an_installed_wheel_migrates_seeds_and_serves_from_any_directory(
        wheel: Wheel, installed: Installed, elsewhere: Path) -> None:
    feedsvc_command = installed.bin("feedsvc")
    # No FEEDSVC_INSTANCE_PATH: Flask's folder for an installed package, made on first use.
    instance = installed.venv / "var" / "feedsvc-instance"
    run([feedsvc_command, "db", "upgrade"], cwd=elsewhere, env=installed.env)
    assert (instance / "feedsvc.sqlite3").is_file()
    assert (instance / "secret_key").is_file()
    run([feedsvc_command, "demo"], cwd=elsewhere, env=installed.env)
    token = run([feedsvc_command, "token", "create", DEMO_EMAIL], cwd=elsewhere,
                env=installed.env).strip()

    with serving(installed, elsewhere) as (origin, log):
        answer = fetch(origin + "/api/v1/feeds", headers={"Authorization": f"Bearer {token}"})
        assert answer.status == 200, answer.body
        (feed,) = json.loads(answer.body)["feeds"]
        assert feed["url"].startswith(origin + "/")

        answer = fetch(feed["url"])
        assert answer.status == 200, answer.body
        assert answer.headers.get_content_type() == "text/calendar"
        calendar = answer.body.decode().replace("\r\n ", "")
        assert calendar.startswith("BEGIN:VCALENDAR\r\n")
        assert calendar.endswith("END:VCALENDAR\r\n")
        for item in demo_items(dt.date.today()):
            assert item["title"] in calendar

        # Pages come from the wheel's templates, translations and static files.
        answer = fetch(origin + "/login", headers={"Accept-Language": "zh-CN"})
        assert answer.status == 200
        assert "登录" in answer.body.decode()
        answer = fetch(origin + "/static/style.css")
        assert answer.status == 200
        assert answer.body == (wheel.source / "feedsvc" / "static" / "style.css").read_bytes()

    # The production access log: requests logged, feed secrets masked.
    logged = log.read_text()
    assert "/api/v1/feeds" in logged
    assert feed["url"].removeprefix(origin) not in logged


def test_the_instance_folder_follows_feedsvc_instance_path(installed: Installed,
                                                          elsewhere: Path) -> None:
    instance = elsewhere / "instance-here"
    run([installed.bin("feedsvc"), "db", "upgrade"], cwd=elsewhere,
        env={**installed.env, "FEEDSVC_INSTANCE_PATH": str(instance)})
    assert (instance / "feedsvc.sqlite3").is_file()


def test_the_checkout_gunicorn_conf_is_the_package_settings() -> None:
    checkout = Config()
    namespace = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    settings = {name for name in vars(feedsvc.gunicorn_config) if name in checkout.settings}
    assert {"bind", "workers", "logger_class", "forwarded_allow_ips", "wsgi_app"} <= settings
    assert {name: namespace[name] for name in settings} == {
        name: getattr(feedsvc.gunicorn_config, name) for name in settings}
