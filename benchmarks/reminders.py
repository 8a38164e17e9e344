"""Time the reminder sender's pass over 1,000 due reminders, among 1,000 and 1,000,000 items.

    .venv/bin/python benchmarks/reminders.py           # 1,000 and 1,000,000 items, 5 runs
    .venv/bin/python benchmarks/reminders.py --quick   # 1,000 and 100,000 items, 3 runs
    .venv/bin/python benchmarks/reminders.py --db sqlite --runs 7 --json figures.json

Both databases hold the same 1,000 due reminders (``benchmarks/seed.py`` with reminders):
the large one only adds accounts whose items are planned for later, with the history earlier
passes leave (a sent reminder per item, a snooze on one in ten). Each run times, on each size
in turn, a pass with a courier that does nothing (the engine's own cost) and a pass of the
real sender (``feedsvc.sender.run_pass``) mailing a local aiosmtpd server; before each pass
the pass's deliveries are deleted and the due items planned again as seeded. For PostgreSQL
it needs a server at --pg-url whose user may create databases (``feedsvc_bench_rem_<items>``,
dropped at the end). Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import re
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask
from sqlalchemy import Engine, bindparam, create_engine, delete, event, func, select, text, update
from sqlalchemy.pool import NullPool

from benchmarks import seed as seeding
from benchmarks.run import create_database, drop_database
from feedsvc import create_app, reminders, sender
from feedsvc.cli import upgrade_database
from feedsvc.config import normalise_database_url
from feedsvc.db import get_engine, new_session
from feedsvc.models import Channel, Delivery, Item
from feedsvc.reminders import Outgoing

SECRET_KEY = "benchmark-secret-key-not-for-production"
HOST = "127.0.0.1"
DUE = seeding.BENCH_ACCOUNTS * seeding.BENCH_ITEMS
NOW = seeding.NOW  # the measured instant: every bench item's 7-day alarm has come
COURIERS = ("engine", "mail")
TARGET = "pass time 1,000,000 ÷ 1,000 items ≤ 1.2"
TABLES = ("items", "users", "channels", "deliveries", "snoozes", "sender_passes")
# SQLite calls the progress handler every this many virtual-machine instructions.
VM_STEP = 100


@dataclass
class Plan:
    small_items: int
    large_items: int
    runs: int


FULL = Plan(1_000, 1_000_000, 5)
QUICK = Plan(1_000, 100_000, 3)


# ---- the mail relay ---------------------------------------------------------------------

class CountingHandler:
    """aiosmtpd handler that accepts every message, counting connections and messages."""

    def __init__(self, connections: Synchronized[int], messages: Synchronized[int]) -> None:
        self.connections = connections
        self.messages = messages

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        if session.host_name is None:  # the first greeting of a connection
            with self.connections.get_lock():
                self.connections.value += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.messages.get_lock():
            self.messages.value += 1
        return "250 Message accepted"


def _serve_mail(port: int, connections: Synchronized[int], messages: Synchronized[int],
                ready: Any, stop: Any) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(CountingHandler(connections, messages), hostname=HOST, port=port,
                            server_hostname="relay.bench", ready_timeout=10.0)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class Relay:
    """aiosmtpd's Controller on 127.0.0.1 in a process of its own.

    In a thread of the sender's process (as the tests run it) its event loop would take the
    GIL from the sender, and the figures would mix the relay's work into the sender's.
    """

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            self.port = int(probe.getsockname()[1])
        self._connections = context.Value("q", 0)
        self._messages = context.Value("q", 0)
        self._ready = context.Event()
        self._stop = context.Event()
        self._process = context.Process(
            target=_serve_mail, daemon=True,
            args=(self.port, self._connections, self._messages, self._ready, self._stop))

    def __enter__(self) -> Self:
        self._process.start()
        deadline = time.monotonic() + 30
        while not self._ready.wait(0.1):
            if not self._process.is_alive() or time.monotonic() > deadline:
                self._process.terminate()
                raise RuntimeError("the SMTP server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._process.join(15)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()

    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    def counts(self) -> tuple[int, int]:
        """Connections greeted and messages accepted so far."""
        return self._connections.value, self._messages.value


# ---- one seeded database -----------------------------------------------------------------

@dataclass
class Size:
    """One seeded database, its app, and what was measured on it."""

    kind: str
    items: int
    name: str
    url: str
    app: Flask
    engine: Engine
    due: dict[int, Any]
    # The seeded history's last delivery: the pass's own come after it.
    last_history: int
    seed_seconds: float
    seconds: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in COURIERS})
    connections: list[int] = field(default_factory=list)
    counted: dict[str, Any] = field(default_factory=dict)
    plans: dict[str, list[str]] = field(default_factory=dict)
    full_scans: list[str] = field(default_factory=list)

    def sessions(self) -> Callable[[], Any]:
        return lambda: new_session(self.app)


def prepare(kind: str, items: int, workdir: Path, pg_url: str, relay: Relay) -> Size:
    """Create, migrate and seed one database; check that exactly the bench items are due."""
    name = f"feedsvc_bench_rem_{items}"
    url = normalise_database_url(create_database(kind, name, workdir, pg_url))
    app = create_app({"FEEDSVC_DATABASE_URL": url, "FEEDSVC_SECRET_KEY": SECRET_KEY,
                      "INSTANCE_PATH": str(workdir / "instance"),
                      "FEEDSVC_BASE_URL": "https://feeds.example.org",
                      "FEEDSVC_MAIL_FROM": "reminders@feeds.example.org",
                      "FEEDSVC_SMTP_URL": relay.url})
    engine = get_engine(app)
    try:
        upgrade_database(app)
        started = time.monotonic()
        seeded = seeding.seed(engine, SECRET_KEY, items, 1, reminders=True)
        seed_seconds = time.monotonic() - started
        if kind == "postgresql":
            # Every run starts from the same statistics and plans: the reset vacuums, and no
            # autovacuum or autoanalyze may come in between.
            with engine.begin() as connection:
                for table in TABLES:
                    connection.execute(text(
                        f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
        with engine.connect() as connection:
            due = connection.scalar(
                select(func.count()).where(Item.next_reminder_at <= NOW)) or 0
            later = connection.scalar(
                select(func.count()).where(Item.next_reminder_at > NOW)) or 0
            last_history = connection.scalar(select(func.max(Delivery.id))) or 0
        if due != DUE or len(seeded.due_reminders) != DUE or due + later != seeded.items:
            raise RuntimeError(f"{name}: {due} due and {later} later of {seeded.items} items")
    except BaseException:
        engine.dispose()
        drop_database(kind, name, url, pg_url)
        raise
    print(f"  {kind}: seeded {seeded.items:,} items ({DUE:,} due) in {seed_seconds:.0f} s",
          flush=True)
    return Size(kind, seeded.items, name, url, app, engine, seeded.due_reminders, last_history,
                seed_seconds)


def reset(size: Size) -> None:
    """Back to the seeded state: only the history's deliveries, the due items' plans where
    they were."""
    with size.engine.begin() as connection:
        connection.execute(delete(Delivery).where(Delivery.id > size.last_history))
        connection.execute(update(Item).where(Item.id == bindparam("item_id"))
                           .values(next_reminder_at=bindparam("at")),
                           [{"item_id": item_id, "at": at} for item_id, at in size.due.items()])
        connection.execute(update(Channel).values(failures=0, paused_at=None, pause_reason=None)
                           .where(Channel.failures != 0))
    if size.kind == "postgresql":
        # The rows the pass and the reset replaced would pile up in the index range the pass
        # reads, run after run; a real installation's autovacuum clears them.
        with size.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM deliveries, items, channels"))
    else:
        # Every pass starts with an empty write-ahead log (on the driver's connection, which
        # is in autocommit: the app's engine would open a transaction first).
        raw = size.engine.raw_connection()
        try:
            driver: Any = raw.driver_connection
            driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()


def _check(summary: reminders.Summary, where: str) -> None:
    if summary.line() != f"sent {DUE}, retrying 0, failed 0, skipped 0":
        raise RuntimeError(f"{where}: {summary.line()}")


def _nothing(outgoing: Outgoing) -> None:
    """The courier of the engine's own cost: every message "goes", nowhere."""


def engine_pass(size: Size) -> float:
    """A pass of the engine with a courier that does nothing; its duration in seconds."""
    reset(size)
    started = time.perf_counter()
    summary = reminders.run_pass(size.sessions(), _nothing, NOW)
    elapsed = time.perf_counter() - started
    _check(summary, f"{size.name}, engine")
    return elapsed


def mail_pass(size: Size, relay: Relay) -> tuple[float, int]:
    """The sender's real pass, mailing the relay: its duration and the connections it used."""
    reset(size)
    connections, messages = relay.counts()
    started = time.perf_counter()
    summary = sender.run_pass(size.app, NOW)
    elapsed = time.perf_counter() - started
    _check(summary, f"{size.name}, mail")
    now_connections, now_messages = relay.counts()
    if now_messages - messages != DUE:
        raise RuntimeError(f"{size.name}: the relay got {now_messages - messages} messages")
    return elapsed, now_connections - connections


# ---- what a pass reads -------------------------------------------------------------------

def _pg_table_reads(size: Size) -> dict[str, dict[str, int]]:
    """Per table, the scans and rows read so far, once every client of the database has
    gone (a backend reports its counts as it exits)."""
    size.engine.dispose()
    observer = create_engine(size.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with observer.connect() as connection:
            deadline = time.monotonic() + 30
            while connection.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")):
                if time.monotonic() > deadline:
                    raise RuntimeError("the pass's connections did not close")
                time.sleep(0.05)
            time.sleep(0.2)
            connection.execute(text("SELECT pg_stat_clear_snapshot()"))
            rows = connection.execute(text(
                "SELECT t.relname, t.seq_scan, t.seq_tup_read, coalesce(t.idx_scan, 0), "
                "coalesce(t.idx_tup_fetch, 0), (SELECT coalesce(sum(i.idx_tup_read), 0) "
                "FROM pg_stat_user_indexes i WHERE i.relid = t.relid), "
                "coalesce(s.heap_blks_hit, 0) + coalesce(s.heap_blks_read, 0) "
                "+ coalesce(s.idx_blks_hit, 0) + coalesce(s.idx_blks_read, 0) "
                "FROM pg_stat_user_tables t JOIN pg_statio_user_tables s USING (relid)"))
            return {name: {"seq_scans": int(seq), "seq_rows": int(seq_rows),
                           "index_scans": int(idx), "index_entries": int(entries),
                           "heap_fetches": int(fetches), "pages": int(pages)}
                    for name, seq, seq_rows, idx, fetches, entries, pages in rows
                    if name in TABLES}
    finally:
        observer.dispose()


@contextlib.contextmanager
def _recording(size: Size) -> Iterator[dict[str, Any]]:
    """Every statement the engine sends (with its first parameters), and on SQLite the
    virtual-machine instructions its connections run."""
    found: dict[str, Any] = {"statements": Counter(), "parameters": {}, "vm_steps": 0,
                             "seconds": Counter()}
    hooked: list[Any] = []
    started: dict[int, float] = {}

    def tick() -> int:
        found["vm_steps"] += VM_STEP
        return 0

    def before(connection: Any, cursor: Any, statement: str, parameters: Any,
               context: Any, executemany: bool) -> None:
        found["statements"][statement] += 1
        found["parameters"].setdefault(statement, parameters[0] if executemany else parameters)
        driver = connection.connection.dbapi_connection
        if size.kind == "sqlite" and all(driver is not known for known in hooked):
            driver.set_progress_handler(tick, VM_STEP)
            hooked.append(driver)
        started[id(cursor)] = time.perf_counter()

    def after(connection: Any, cursor: Any, statement: str, parameters: Any,
              context: Any, executemany: bool) -> None:
        # Until the driver returns: all the rows on psycopg, the first one on sqlite3 (a
        # scan that finds nothing has then run to its end).
        found["seconds"][statement] += time.perf_counter() - started.pop(id(cursor))

    event.listen(size.engine, "before_cursor_execute", before)
    event.listen(size.engine, "after_cursor_execute", after)
    try:
        yield found
    finally:
        event.remove(size.engine, "before_cursor_execute", before)
        event.remove(size.engine, "after_cursor_execute", after)
        for driver in hooked:
            driver.set_progress_handler(None, 0)


def _explain(size: Size, statement: str, parameters: Any) -> list[str]:
    prefix = "EXPLAIN " if size.kind == "postgresql" else "EXPLAIN QUERY PLAN "
    with size.engine.connect() as connection:
        rows = connection.exec_driver_sql(prefix + statement, parameters).all()
    if size.kind == "postgresql":
        return [row[0] for row in rows]
    return [str(row[-1]) for row in rows]


def _full_scans(size: Size, plan: list[str]) -> list[str]:
    """The tables a plan reads from end to end (an index scan without a condition too)."""
    pattern = r"Seq Scan on (\w+)" if size.kind == "postgresql" else \
        r"^SCAN (?!CONSTANT ROW)(\w+)"
    return [match.group(1) for line in plan for match in [re.search(pattern, line.strip())]
            if match is not None and match.group(1) in TABLES]


def _label(statement: str) -> str:
    """A statement, short: no column list, no long lists of parameters."""
    short = re.sub(r"\s+", " ", statement)
    short = re.sub(r"^SELECT .*? FROM ", "SELECT … FROM ", short)
    short = re.sub(r"(\((?:\?|%\(\w+\)s)(?:, (?:\?|%\(\w+\)s))*\),? ?){3,}", "(…) ", short)
    return short if len(short) <= 120 else short[:119] + "…"


def count_pass(size: Size) -> None:
    """One untimed engine pass, recorded: statements, rows read, and every query's plan."""
    reset(size)
    before = _pg_table_reads(size) if size.kind == "postgresql" else {}
    with _recording(size) as found:
        _check(reminders.run_pass(size.sessions(), _nothing, NOW), f"{size.name}, counted")
    verbs: Counter[str] = Counter()
    for statement, times in found["statements"].items():
        verbs[statement.split(None, 1)[0].upper()] += times
    slowest = sorted(found["seconds"].items(), key=lambda pair: -pair[1])[:3]
    size.counted = {"statements": sum(verbs.values()), "by_verb": dict(verbs),
                    "distinct_statements": len(found["statements"]),
                    "database_seconds": sum(found["seconds"].values()),
                    "slowest": [{"statement": _label(statement), "seconds": seconds,
                                 "times": found["statements"][statement]}
                                for statement, seconds in slowest]}
    if size.kind == "postgresql":
        after = _pg_table_reads(size)
        size.counted["tables"] = {
            name: {key: after[name][key] - before.get(name, {}).get(key, 0)
                   for key in after[name]} for name in TABLES if name in after}
    else:
        size.counted["vm_steps"] = found["vm_steps"]
    scans: set[str] = set()
    for statement, parameters in found["parameters"].items():
        if not statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
            continue
        plan = _explain(size, statement, parameters)
        if "FROM items" in statement and "next_reminder_at <=" in statement:
            size.plans["candidates"] = plan
        scans.update(f"{table} ({statement.split(None, 1)[0].upper()})"
                     for table in _full_scans(size, plan))
    size.full_scans = sorted(scans)


# ---- running and reporting ---------------------------------------------------------------

def measure(kind: str, plan: Plan, workdir: Path, pg_url: str, relay: Relay) -> list[Size]:
    """Both sizes of one database, measured turn about (small, large, small, large...)."""
    sizes: list[Size] = []
    try:
        for items in (plan.small_items, plan.large_items):
            sizes.append(prepare(kind, items, workdir, pg_url, relay))
        for size in sizes:
            count_pass(size)
            _, connections = mail_pass(size, relay)  # warms the mail templates and catalog
            print(f"  {kind}, {size.items:,} items: {size.counted['statements']:,} statements "
                  f"a pass; warm-up mail pass used {connections} connection(s)", flush=True)
        for run in range(plan.runs):
            for courier in COURIERS:
                for size in sizes:
                    if courier == "engine":
                        size.seconds[courier].append(engine_pass(size))
                    else:
                        elapsed, connections = mail_pass(size, relay)
                        size.seconds[courier].append(elapsed)
                        size.connections.append(connections)
            print(f"  {kind}, run {run + 1}/{plan.runs}: " + "; ".join(
                f"{courier} " + " / ".join(f"{s.seconds[courier][-1]:.3f} s" for s in sizes)
                for courier in COURIERS) + " (small / large)", flush=True)
    finally:
        for size in sizes:
            size.engine.dispose()
            with contextlib.suppress(Exception):
                drop_database(kind, size.name, size.url, pg_url)
    return sizes


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def figures(sizes: list[Size]) -> dict[str, Any]:
    """What is printed and written to --json, for one database kind's two sizes."""
    small, large = sizes
    out: dict[str, Any] = {"kind": small.kind, "sizes": [], "ratios": {}}
    for size in sizes:
        out["sizes"].append({
            "items": size.items, "seed_seconds": round(size.seed_seconds, 1),
            "seconds": size.seconds,
            "median_seconds": {c: _median(size.seconds[c]) for c in COURIERS},
            "reminders_per_second": {c: DUE / _median(size.seconds[c]) for c in COURIERS},
            "connections_per_pass": size.connections, "counted_pass": size.counted,
            "candidate_plan": size.plans.get("candidates", []),
            "full_scans": size.full_scans})
    for courier in COURIERS:
        per_run = [b / a for a, b in zip(small.seconds[courier], large.seconds[courier],
                                         strict=True)]
        out["ratios"][courier] = {
            "of_medians": _median(large.seconds[courier]) / _median(small.seconds[courier]),
            "median_per_run": _median(per_run), "per_run": per_run}
    return out


def report(measured: list[dict[str, Any]], runs: int) -> str:
    lines = [f"Medians of {runs} runs; {DUE:,} reminders due in every pass.", "",
             ("| database | items | courier | pass s (median) | range s | reminders/s | "
             "connections per pass |"), "|---|---|---|---|---|---|---|"]
    for m in measured:
        for size in m["sizes"]:
            for courier in COURIERS:
                seconds = size["seconds"][courier]
                connections = (", ".join(str(c) for c in sorted(set(size["connections_per_pass"])))
                               if courier == "mail" else "-")
                lines.append(f"| {m['kind']} | {size['items']:,} | {courier} | "
                             f"{size['median_seconds'][courier]:.3f} | {min(seconds):.3f}–"
                             f"{max(seconds):.3f} | {size['reminders_per_second'][courier]:,.0f} "
                             f"| {connections} |")
    lines += ["", ("| database | courier | large ÷ small (medians) | median of per-run ratios | "
              "per run |"), "|---|---|---|---|---|"]
    for m in measured:
        for courier in COURIERS:
            ratio = m["ratios"][courier]
            lines.append(f"| {m['kind']} | {courier} | {ratio['of_medians']:.2f} | "
                         f"{ratio['median_per_run']:.2f} | "
                         f"{', '.join(f'{r:.2f}' for r in ratio['per_run'])} |")
    lines += ["", "One engine pass, recorded (untimed):", "",
              ("| database | items | statements | by kind | time in the database, s | "
               "SQLite VM steps | full scans in the plans |"), "|---|---|---|---|---|---|---|"]
    for m in measured:
        for size in m["sizes"]:
            counted = size["counted_pass"]
            verbs = ", ".join(f"{verb} {n:,}" for verb, n in sorted(counted["by_verb"].items()))
            steps = f"{counted['vm_steps']:,}" if "vm_steps" in counted else "-"
            lines.append(f"| {m['kind']} | {size['items']:,} | {counted['statements']:,} | "
                         f"{verbs} | {counted['database_seconds']:.3f} | {steps} | "
                         f"{', '.join(size['full_scans']) or 'none'} |")
    tables = [(m, size) for m in measured for size in m["sizes"]
              if "tables" in size["counted_pass"]]
    if tables:
        lines += ["", "Rows PostgreSQL read in that pass (pg_stat_user_tables and _indexes):", "",
                  ("| items | table | sequential scans | rows they read | index scans | "
                   "index entries read | rows fetched through an index | pages visited |"),
                  "|---|---|---|---|---|---|---|---|"]
        for _, size in tables:
            for name, t in size["counted_pass"]["tables"].items():
                if t["seq_scans"] or t["index_scans"]:
                    lines.append(f"| {size['items']:,} | {name} | {t['seq_scans']:,} | "
                                 f"{t['seq_rows']:,} | {t['index_scans']:,} | "
                                 f"{t['index_entries']:,} | {t['heap_fetches']:,} | "
                                 f"{t['pages']:,} |")
    lines += ["", "Slowest statements of the recorded pass (total over the pass):"]
    for m in measured:
        for size in m["sizes"]:
            lines += [f"    {m['kind']}, {size['items']:,} items: {slow['seconds']:.3f} s, "
                      f"{slow['times']} x {slow['statement']}"
                      for slow in size["counted_pass"]["slowest"]]
    for m in measured:
        for size in m["sizes"]:
            lines += ["", f"Candidate query plan, {m['kind']}, {size['items']:,} items:",
                      *(f"    {line}" for line in size["candidate_plan"])]
    return "\n".join(lines)


def machine(pg_url: str, kinds: tuple[str, ...]) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    versions = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    if "postgresql" in kinds:
        admin = create_engine(normalise_database_url(pg_url), poolclass=NullPool)
        with admin.connect() as connection:
            versions["postgresql"] = str(connection.scalar(text("SHOW server_version")))
        admin.dispose()
    for package in ("flask", "sqlalchemy", "psycopg", "aiosmtpd"):
        versions[package] = version(package)
    return (f"{os.cpu_count()} x {cpu}; " + ", ".join(f"{k} {v}" for k, v in versions.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="100,000 items instead of 1,000,000, and 3 runs")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server whose user may create databases")
    parser.add_argument("--runs", type=int, help="runs of each pass (default 5, quick 3)")
    parser.add_argument("--large-items", type=int,
                        help="items of the large database (default 1,000,000, quick 100,000)")
    parser.add_argument("--workdir", type=Path,
                        help="where the SQLite files go (default: a new temporary folder)")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.runs:
        plan.runs = args.runs
    if args.large_items:
        plan.large_items = args.large_items
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    about = machine(args.pg_url, kinds)
    print(about, flush=True)
    measured = []
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="feedsvc-bench-rem-")))
        workdir.mkdir(parents=True, exist_ok=True)
        relay = stack.enter_context(Relay())
        for kind in kinds:
            print(f"{kind}: {plan.small_items:,} and {plan.large_items:,} items", flush=True)
            measured.append(figures(measure(kind, plan, workdir, args.pg_url, relay)))
    print()
    print(f"Target: {TARGET}.")
    print(report(measured, plan.runs))
    if args.json:
        args.json.write_text(json.dumps({"machine": about, "runs": plan.runs,
                                         "due": DUE, "measured": measured}, indent=1))


if __name__ == "__main__":
    main()
