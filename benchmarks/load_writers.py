"""Writers and feed readers against gunicorn; afterwards, nothing acknowledged may be missing.

N writer threads create, edit, renew and undo items through the API (each on items of its
own, plus one "hot" item they all renew and undo, which makes real conflicts), M reader
threads poll the account's feed, for a fixed time, on SQLite and on PostgreSQL. gunicorn is
started here on 127.0.0.1 with a temporary instance and FEEDSVC_RATE_LIMITS=off.

Afterwards every acknowledged write must be there (titles, due dates, renewal counts), every
item's renewal history must chain (each renewal's due_before is the previous due_after, the
item's due date the last due_after), and no answer may have been a 5xx. 409 (a write that
raced another) is an acceptable answer: the writer reads the item again and retries.

    .venv/bin/python benchmarks/load_writers.py --seconds 30 --writers 8 --readers 4
    .venv/bin/python benchmarks/load_writers.py --database postgresql \\
        --pg-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ITEM = {"title": "MTS Russia", "category": "sim", "due_date": "2027-03-31",
        "repeat": {"every": 1, "unit": "month", "from": "schedule"}, "grace_days": 30,
        "price": {"amount": "300.00", "currency": "RUB"}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_url(kind: str, workdir: Path, pg_url: str) -> tuple[str, Any]:
    """A fresh, migrated database and a function that drops it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from feedsvc.config import normalise_database_url

    if kind == "sqlite":
        return f"sqlite:///{workdir}/feedsvc.sqlite3", lambda: None
    server = normalise_database_url(pg_url)
    name = "feedsvc_load_" + uuid.uuid4().hex[:10]
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(server).set(database=name).render_as_string(hide_password=False), drop


def prepare(url: str, workdir: Path, secret_key: str) -> dict[str, str]:
    """Migrate, and create the account with an API token and a feed."""
    from feedsvc import accounts, create_app, feeds
    from feedsvc.cli import upgrade_database
    from feedsvc.db import get_engine, new_session

    app = create_app({"INSTANCE_PATH": str(workdir / "instance"), "FEEDSVC_DATABASE_URL": url,
                      "FEEDSVC_SECRET_KEY": secret_key})
    upgrade_database(app)
    with app.app_context(), new_session(app) as session:
        user = accounts.create_user(session, "load@example.com", "load-test-password")
        token = accounts.create_api_token(session, user, "load")
        feed = feeds.create_feed(session, user, secret_key, {"name": "All"})
        session.commit()
        feed_path = "/feeds/" + feeds.feed_token(secret_key, feed.secret) + ".ics"
    get_engine(app).dispose()
    return {"token": token.secret, "feed": feed_path}


class Server:
    """gunicorn with the repository's gunicorn.conf.py on 127.0.0.1."""

    def __init__(self, url: str, workdir: Path, secret_key: str, workers: int) -> None:
        self.port = free_port()
        self.log = open(workdir / "gunicorn.log", "wb")  # noqa: SIM115 -- closed in stop()
        env = {**os.environ, "FEEDSVC_DATABASE_URL": url, "FEEDSVC_SECRET_KEY": secret_key,
               "FEEDSVC_INSTANCE_PATH": str(workdir / "instance"), "FEEDSVC_RATE_LIMITS": "off",
               "FEEDSVC_BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": str(workers),
               "FEEDSVC_ACCESS_LOG": str(workdir / "access.log"),
               "FEEDSVC_BASE_URL": f"http://127.0.0.1:{self.port}"}
        env.pop("FEEDSVC_REDIS_URL", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/api/v1/openapi.json")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not start; see {workdir / 'gunicorn.log'}")

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        self.log.close()


@dataclass
class Tally:
    """What every thread saw, added up under one lock."""

    operations: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, operation: str, status: int) -> None:
        with self.lock:
            self.operations[operation] += 1
            self.statuses[status] += 1


class Client:
    """One keep-alive connection; a dropped connection is status 0 and a fresh one."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.connection: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        sent = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.connection.request(method, path, body=data, headers=sent)
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            if self.connection is not None:
                self.connection.close()
            self.connection = None
            return 0, None, {}
        payload = json.loads(raw) if raw and response.getheader("Content-Type", "").startswith(
            "application/json") else raw
        return response.status, payload, dict(response.getheaders())


@dataclass
class Expected:
    """What an item must look like, from the acknowledged writes alone."""

    title: str
    due_date: str
    renewals: int = 0
    uncertain: bool = False  # a write whose answer was lost (connection dropped)


class Writer(threading.Thread):
    """Creates, edits, renews and undoes its own items, and renews the shared hot item."""

    def __init__(self, number: int, port: int, token: str, hot: int, stop: threading.Event,
                 tally: Tally, hot_counts: Counter[str]) -> None:
        super().__init__(daemon=True)
        self.number, self.client, self.hot = number, Client(port, token), hot
        self.stop, self.tally, self.hot_counts = stop, tally, hot_counts
        self.items: dict[int, Expected] = {}
        self.random = random.Random(number)

    def run(self) -> None:
        while not self.stop.is_set():
            roll = self.random.random()
            if not self.items or roll < 0.15:
                self.create()
            elif roll < 0.25:
                self.hot_write()
            else:
                item_id = self.random.choice(list(self.items))
                action = self.random.choice((self.edit, self.renew, self.renew, self.undo))
                action(item_id)

    def _record(self, operation: str, status: int) -> None:
        self.tally.add(operation, status)

    def create(self) -> None:
        title = f"w{self.number}-{secrets.token_hex(4)}"
        status, body, _ = self.client.call("POST", "/api/v1/items", {**ITEM, "title": title})
        self._record("create", status)
        if status == 201:
            self.items[body["id"]] = Expected(title, body["due_date"])

    def _sync(self, item_id: int) -> None:
        """After a lost answer: check the server holds the acknowledged state, then adopt it."""
        status, body, _ = self.client.call("GET", f"/api/v1/items/{item_id}")
        if status != 200:
            return
        _, history, _ = self.client.call("GET", f"/api/v1/items/{item_id}/renewals")
        expected = self.items[item_id]
        expected.title, expected.due_date = body["title"], body["due_date"]
        expected.renewals = len(history["renewals"])
        expected.uncertain = False

    def _write(self, operation: str, item_id: int, method: str, path: str, body: Any) -> Any:
        for _attempt in range(20):
            status, answer, _headers = self.client.call(method, path, body)
            self._record(operation, status)
            if status == 0:
                self.items[item_id].uncertain = True
                time.sleep(0.05)
                self._sync(item_id)
                return None
            if status == 409 and operation != "undo":
                time.sleep(self.random.random() * 0.02)
                continue
            return status, answer
        return None

    def edit(self, item_id: int) -> None:
        title = f"w{self.number}-{secrets.token_hex(4)}"
        result = self._write("edit", item_id, "PATCH", f"/api/v1/items/{item_id}",
                             {"title": title, "notes": f"edited at {time.time()}"})
        if result and result[0] == 200:
            self.items[item_id].title = title

    def renew(self, item_id: int) -> None:
        result = self._write("renew", item_id, "POST", f"/api/v1/items/{item_id}/renewals", {})
        if result and result[0] == 201:
            self.items[item_id].renewals += 1
            self.items[item_id].due_date = result[1]["item"]["due_date"]

    def undo(self, item_id: int) -> None:
        result = self._write("undo", item_id, "DELETE",
                             f"/api/v1/items/{item_id}/renewals/latest", None)
        if result and result[0] == 200:
            self.items[item_id].renewals -= 1
            self.items[item_id].due_date = result[1]["due_date"]

    def hot_write(self) -> None:
        undo = self.random.random() < 0.3
        path = f"/api/v1/items/{self.hot}/renewals" + ("/latest" if undo else "")
        status, _, _ = self.client.call("DELETE" if undo else "POST", path, None if undo else {})
        self._record("hot " + ("undo" if undo else "renew"), status)
        with self.tally.lock:
            if status in (200, 201):
                self.hot_counts["undone" if undo else "renewed"] += 1
            elif status == 0:
                self.hot_counts["uncertain"] += 1


class Reader(threading.Thread):
    """Polls the feed, half the time conditionally, as calendar apps do."""

    def __init__(self, port: int, path: str, stop: threading.Event, tally: Tally) -> None:
        super().__init__(daemon=True)
        self.client, self.path, self.stop, self.tally = Client(port, ""), path, stop, tally
        self.etag = ""

    def run(self) -> None:
        while not self.stop.is_set():
            headers = {"If-None-Match": self.etag} if self.etag and random.random() < 0.5 else {}
            status, body, answer_headers = self.client.call("GET", self.path, headers=headers)
            self.tally.add("feed", status)
            if status == 200:
                if not body.startswith(b"BEGIN:VCALENDAR") or not body.rstrip().endswith(
                        b"END:VCALENDAR"):
                    self.tally.add("feed not whole", -1)
                self.etag = answer_headers.get("ETag", "")


def check_database(url: str) -> list[str]:
    """Every item's renewal history chains, straight from the database."""
    from sqlalchemy import create_engine, select

    from feedsvc.models import Item, Renewal

    problems = []
    engine = create_engine(url)
    with engine.connect() as connection:
        due = {row.id: row.due_date for row in connection.execute(select(Item.id, Item.due_date))}
        chains: dict[int, list[Any]] = {}
        for renewal in connection.execute(select(Renewal).order_by(Renewal.id)):
            chains.setdefault(renewal.item_id, []).append(renewal)
    engine.dispose()
    for item_id, history in chains.items():
        for before, after in itertools.pairwise(history):
            if after.due_before != before.due_after:
                problems.append(f"item {item_id}: renewal {after.id} does not follow {before.id}")
        if due[item_id] != history[-1].due_after:
            problems.append(f"item {item_id}: due {due[item_id]} is not the last due_after")
    return problems


def verify(client: Client, writers: list[Writer], hot: int, hot_counts: Counter[str],
           url: str) -> dict[str, int]:
    """Compare the server with the acknowledged writes; count what is missing."""
    lost = checked = 0
    for writer in writers:
        for item_id, expected in writer.items.items():
            checked += 1
            status, body, _ = client.call("GET", f"/api/v1/items/{item_id}")
            _, history, _ = client.call("GET", f"/api/v1/items/{item_id}/renewals")
            if not expected.uncertain and (
                    status != 200 or (body["title"], body["due_date"]) != (
                        expected.title, expected.due_date) or len(
                        history["renewals"]) != expected.renewals):
                lost += 1
                print(f"  LOST: item {item_id} expected {expected}, server {body}",
                      file=sys.stderr)
    _, history, _ = client.call("GET", f"/api/v1/items/{hot}/renewals")
    hot_expected = hot_counts["renewed"] - hot_counts["undone"]
    hot_found = len(history["renewals"])
    if abs(hot_found - hot_expected) > hot_counts["uncertain"]:
        lost += 1
        print(f"  LOST: hot item has {hot_found} renewals, expected {hot_expected}",
              file=sys.stderr)
    chain_problems = check_database(url)
    for problem in chain_problems:
        print("  CHAIN: " + problem, file=sys.stderr)
    return {"items checked": checked, "lost writes": lost,
            "broken chains": len(chain_problems), "hot renewals": hot_found}


def run(kind: str, args: argparse.Namespace, chaos: Any = None) -> dict[str, Any]:
    """One run on one database; ``chaos(server, stop)`` may disturb gunicorn meanwhile."""
    with tempfile.TemporaryDirectory(prefix=f"feedsvc-load-{kind}-") as folder:
        workdir = Path(folder)
        secret_key = secrets.token_urlsafe(32)
        url, drop = database_url(kind, workdir, args.pg_url)
        try:
            account = prepare(url, workdir, secret_key)
            server = Server(url, workdir, secret_key, args.workers)
            try:
                tally, hot_counts, stop = Tally(), Counter[str](), threading.Event()
                setup = Client(server.port, account["token"])
                hot = setup.call("POST", "/api/v1/items", {**ITEM, "title": "hot"})[1]["id"]
                writers = [Writer(n, server.port, account["token"], hot, stop, tally, hot_counts)
                           for n in range(args.writers)]
                readers = [Reader(server.port, account["feed"], stop, tally)
                           for _ in range(args.readers)]
                started = time.monotonic()
                for thread in (*writers, *readers):
                    thread.start()
                extra = chaos(server, stop, args) if chaos else {}
                time.sleep(max(0.0, args.seconds - (time.monotonic() - started)))
                stop.set()
                for thread in (*writers, *readers):
                    thread.join(timeout=60)
                elapsed = time.monotonic() - started
                result = verify(setup, writers, hot, hot_counts, url)
            finally:
                server.stop()
        finally:
            drop()
    errors_5xx = sum(n for status, n in tally.statuses.items() if status >= 500)
    return {"database": kind, "seconds": round(elapsed, 1), "writers": args.writers,
            "readers": args.readers, "operations": dict(tally.operations),
            "requests": sum(tally.statuses.values()), "statuses": dict(tally.statuses),
            "5xx": errors_5xx, "dropped connections": tally.statuses.get(0, 0),
            **result, **extra}


def print_result(result: dict[str, Any]) -> None:
    print(f"\n== {result['database']}: {result['writers']} writers, {result['readers']} "
          f"readers, {result['seconds']} s")
    print(f"operations: {json.dumps(result['operations'], sort_keys=True)}")
    print(f"requests: {result['requests']} ({result['requests'] / result['seconds']:.0f}/s); "
          f"statuses: {json.dumps(dict(sorted(result['statuses'].items())))}")
    extra = {k: v for k, v in result.items() if k not in (
        "database", "seconds", "writers", "readers", "operations", "requests", "statuses")}
    print("; ".join(f"{key}: {value}" for key, value in extra.items()))


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default=os.environ.get(
        "FEEDSVC_LOAD_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    return parser


def main() -> None:
    args = arguments(__doc__.splitlines()[0]).parse_args()
    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    failed = False
    for kind in kinds:
        result = run(kind, args)
        print_result(result)
        failed |= bool(result["5xx"] or result["lost writes"] or result["broken chains"])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
