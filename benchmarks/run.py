"""Seed, serve under gunicorn, load with wrk, and print the figures of issue 7.

    .venv/bin/python benchmarks/run.py            # full: 1,000,000 and 1,000 items, both DBs
    .venv/bin/python benchmarks/run.py --quick    # minutes: 100,000 and 1,000 items

Needs wrk (Debian: ``apt-get install -y wrk``) and, for PostgreSQL, a server at --pg-url whose
user may create databases. Everything listens on 127.0.0.1; every load has a fixed duration.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import http.cookiejar
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks import seed as seeding
from feedsvc import create_app
from feedsvc.cli import upgrade_database
from feedsvc.config import normalise_database_url
from feedsvc.db import get_engine

SECRET_KEY = "benchmark-secret-key-not-for-production"
HOST = "127.0.0.1"
WORKERS = 2
THREADS = 2
CONNECTIONS = 16
SCENARIOS = ("baseline", "baseline_304", "feed_200", "feed_200_gzip", "feed_304", "feed_cold",
             "rebuild", "item_list", "api_list")
TARGETS = "feed 200 and 304 >= 0.8 x baseline; cold >= 10 x 40-70 req/s; p50 1M/1k <= 1.2"


@dataclass
class Result:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    wrapped: bool = False


@dataclass
class Plan:
    small_items: int
    large_items: int
    feeds_per_account: int
    duration: int
    cold_duration: int
    runs: int
    soak: int


FULL = Plan(1_000, 1_000_000, 100, 5, 3, 5, 300)
QUICK = Plan(1_000, 100_000, 40, 2, 2, 5, 30)


def _found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"no {pattern!r} in:\n{text}")
    return match.group(1)


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str, duration: int, headers: dict[str, str] | None = None,
        script: list[str] | None = None) -> Result:
    """One wrk run: requests per second, p50 and p99 latency."""
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency",
               "--timeout", "10s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", script[0], url, "--", *script[1:]]
    else:
        command.append(url)
    output = subprocess.run(command, capture_output=True, text=True, check=True,
                            timeout=duration + 60).stdout
    rate = float(_found(r"Requests/sec:\s+([\d.]+)", output))
    p50 = _ms(_found(r"\s50%\s+(\S+)", output))
    p99 = _ms(_found(r"\s99%\s+(\S+)", output))
    if re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        raise RuntimeError(f"errors from {url}:\n{output}")
    return Result(rate, p50, p99, wrapped="wrapped" in output)


class Server:
    """gunicorn with the repository's gunicorn.conf.py, as production starts it."""

    def __init__(self, database_url: str, port: int, fixed_bytes: int, log: Path) -> None:
        self.port = port
        self.base = f"http://{HOST}:{port}"
        env = {**os.environ, "FEEDSVC_DATABASE_URL": database_url,
               "FEEDSVC_SECRET_KEY": SECRET_KEY, "FEEDSVC_BASE_URL": self.base,
               "FEEDSVC_RATE_LIMITS": "off", "WEB_CONCURRENCY": str(WORKERS),
               "FEEDSVC_BIND": f"{HOST}:{port}", "FEEDSVC_ACCESS_LOG": "/dev/null",
               "FEEDSVC_BENCH_BYTES": str(fixed_bytes),
               # The same two workers serve the whole run, so their memory after it (and
               # over the soak) is all of it, not that of a replacement.
               "FEEDSVC_MAX_REQUESTS": "0"}
        env.pop("FEEDSVC_REDIS_URL", None)
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "benchmarks.app:app"],
            cwd=ROOT, env=env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as answer:
                    if answer.status == 200 and len(self.workers()) == WORKERS:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"gunicorn did not start; see {log}")

    def workers(self) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.process.pid:
                    found.append(int(entry.name))
        return found

    def rss_by_worker(self) -> dict[int, float]:
        """Each live worker's resident memory in MB, by process id."""
        sizes = {}
        for pid in self.workers():
            # A worker that has just exited may be gone, or a zombie without VmRSS.
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            found = re.search(r"VmRSS:\s+(\d+)", status)
            if found is not None:
                sizes[pid] = int(found.group(1)) / 1024
        return sizes

    def rss_mb(self) -> list[float]:
        return list(self.rss_by_worker().values())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def login(base: str, email: str, password: str) -> str:
    """Sign in through the form; the session cookie as a Cookie header value."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login", timeout=10).read().decode()
    token = _found(r'name="csrf_token" value="([^"]+)"', page)
    form = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token})
    opener.open(base + "/login", data=form.encode(), timeout=30).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), b""


def create_database(kind: str, name: str, workdir: Path, pg_url: str) -> str:
    if kind == "sqlite":
        path = workdir / f"{name}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return "sqlite:///" + str(path)
    admin = create_engine(normalise_database_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(normalise_database_url(pg_url)).set(database=name).render_as_string(
        hide_password=False)


def drop_database(kind: str, name: str, url: str, pg_url: str) -> None:
    if kind == "sqlite":
        path = make_url(url).database
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    admin = create_engine(normalise_database_url(pg_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def warm(base: str, paths: list[str]) -> None:
    """Fetch every path once (two at a time, one per worker)."""
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        for status, _, _ in pool.map(lambda p: fetch(base + p), paths):
            if status != 200:
                raise RuntimeError(f"warm-up fetch answered {status}")


@dataclass
class Database:
    """One seeded database served by its own gunicorn, ready to be loaded."""

    kind: str
    name: str
    url: str
    engine: Any
    seeded: seeding.Seeded
    seed_seconds: float
    server: Server
    loads: dict[str, tuple[str, dict[str, str], list[str] | None]]
    feed_bytes: int
    results: dict[str, list[Result]]


def prepare(kind: str, items: int, plan: Plan, workdir: Path, pg_url: str) -> Database:
    """Seed one database, start its server, build every bench feed once, check each scenario."""
    name = f"feedsvc_bench_{items}"
    url = normalise_database_url(create_database(kind, name, workdir, pg_url))
    app = create_app({"FEEDSVC_DATABASE_URL": url, "FEEDSVC_SECRET_KEY": SECRET_KEY,
                      "INSTANCE_PATH": str(workdir / "instance")})
    upgrade_database(app)
    engine = get_engine(app)
    started = time.monotonic()
    seeded = seeding.seed(engine, SECRET_KEY, items, plan.feeds_per_account)
    seed_seconds = time.monotonic() - started
    print(f"  seeded {seeded.items:,} items in {seed_seconds:.0f} s", flush=True)

    port = free_port()
    base = f"http://{HOST}:{port}"
    # The baseline returns as many bytes as the feed: measure the feed's size first.
    probe = Server(url, port, 20_000, workdir / "gunicorn.log")
    _, _, body = fetch(base + seeded.feed_path)
    probe.stop()
    server = Server(url, port, len(body), workdir / "gunicorn.log")
    try:
        cookie = login(base, seeded.email, seeded.password)
        fetch(base + seeded.feed_path, {"Accept-Encoding": "gzip"})
        paths_file = workdir / f"cold-paths-{name}.txt"
        paths_file.write_text("\n".join(seeded.cold_feed_paths) + "\n")
        started = time.monotonic()
        warm(base, seeded.cold_feed_paths)
        print(f"  built {len(seeded.cold_feed_paths):,} feeds in "
              f"{time.monotonic() - started:.0f} s", flush=True)
        token = seeded.feed_path.removeprefix("/feeds/").removesuffix(".ics")
        loads: dict[str, tuple[str, dict[str, str], list[str] | None]] = {
            "baseline": (base + "/_bench/fixed", {}, None),
            "baseline_304": (base + "/_bench/fixed", {"If-None-Match": '"fixed"'}, None),
            "feed_200": (base + seeded.feed_path, {}, None),
            "feed_200_gzip": (base + seeded.feed_path, {"Accept-Encoding": "gzip"}, None),
            # Its If-None-Match is the current ETag, asked for before each run.
            "feed_304": (base + seeded.feed_path, {}, None),
            "feed_cold": (base + "/", {}, [str(ROOT / "benchmarks" / "paths.lua"),
                                           str(paths_file), str(THREADS)]),
            "rebuild": (base + f"/_bench/rebuild/{token}.ics", {}, None),
            "item_list": (base + "/", {"Cookie": cookie}, None),
            "api_list": (base + "/api/v1/items",
                         {"Authorization": f"Bearer {seeded.api_token}"}, None),
        }
        for check, (target, extra, _) in loads.items():
            if check != "feed_cold":
                status, _, _ = fetch(target, extra)
                assert status in (200, 304), (check, status)
    except BaseException:
        server.stop()
        engine.dispose()
        drop_database(kind, name, url, pg_url)
        raise
    return Database(kind, name, url, engine, seeded, seed_seconds, server, loads, len(body),
                    {scenario: [] for scenario in SCENARIOS})


def load_once(database: Database, plan: Plan, run: int) -> None:
    """Every scenario once, for ``plan.duration`` seconds each (the cold one shorter)."""
    for scenario in SCENARIOS:
        target, extra, script = database.loads[scenario]
        duration = plan.duration
        if scenario == "feed_304":
            # The last cold run edited this account too: ask for the current ETag.
            extra = {"If-None-Match":
                     fetch(database.loads["feed_200"][0])[1]["ETag"]}
        if scenario == "feed_cold":
            seeding.edit(database.engine, database.seeded.edit_item_ids, run + 1)
            duration = plan.cold_duration
        database.results[scenario].append(wrk(target, duration, extra, script))
    print(f"  {database.kind}, {database.seeded.items:,} items, run {run + 1}/{plan.runs}: "
          + ", ".join(f"{s} {database.results[s][-1].requests_per_second:.0f}/s"
                      for s in SCENARIOS), flush=True)


def finish(database: Database, soak_seconds: int, pg_url: str, workdir: Path) -> dict[str, Any]:
    """The workers' memory after the load (and over a soak), then stop and drop everything."""
    soak: list[dict[str, float]] = []
    try:
        rss_after_load = database.server.rss_mb()
        if soak_seconds:
            all_feeds = workdir / f"all-paths-{database.name}.txt"
            all_feeds.write_text(
                "\n".join([database.seeded.feed_path, *database.seeded.cold_feed_paths]) + "\n")
            soak = soak_rss(database.server, database.server.base, all_feeds, soak_seconds)
    finally:
        database.server.stop()
        database.engine.dispose()
        drop_database(database.kind, database.name, database.url, pg_url)
    return {"kind": database.kind, "items": database.seeded.items,
            "seed_seconds": database.seed_seconds,
            "results": {k: [asdict(r) for r in v] for k, v in database.results.items()},
            "rss_after_load_mb": rss_after_load, "soak_rss_mb": soak,
            "feed_bytes": database.feed_bytes}


def measure(kind: str, plan: Plan, workdir: Path, pg_url: str) -> list[dict[str, Any]]:
    """Both sizes of one database, each on its own server, loaded in alternate runs.

    The machine's speed drifts over minutes, so the small and the large database are
    measured turn about (small, large, small, large...) rather than one after the other:
    the ratio of their latencies then compares the two sizes, not two stretches of time.
    Only one server is loaded at a time; the other's workers wait idle.
    """
    databases: list[Database] = []
    measured: list[dict[str, Any]] = []
    try:
        for items in (plan.small_items, plan.large_items):
            print(f"{kind}, {items:,} items", flush=True)
            databases.append(prepare(kind, items, plan, workdir, pg_url))
        for run in range(plan.runs):
            for database in databases:
                load_once(database, plan, run)
        while databases:
            # The soak runs on the large database, once both are measured.
            database = databases.pop(0)
            measured.append(finish(database, 0 if databases else plan.soak, pg_url, workdir))
    finally:
        # After a failure: stop the servers and drop the databases not finished yet.
        for database in databases:
            with contextlib.suppress(Exception):
                finish(database, 0, pg_url, workdir)
    return measured


def soak_rss(server: Server, base: str, paths_file: Path,
             seconds: int) -> list[dict[str, float]]:
    """Load every bench feed in turn for ``seconds``; each worker's RSS every 10 s, by pid."""
    samples: list[dict[str, float]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(10):
            sizes = server.rss_by_worker()
            if sizes:
                samples.append({str(pid): size for pid, size in sizes.items()})

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        wrk(base + "/", seconds, {}, [str(ROOT / "benchmarks" / "paths.lua"), str(paths_file),
                                      str(THREADS)])
    finally:
        stop.set()
        sampler.join()
    return samples


def soak_summary(samples: list[dict[str, float]]) -> str:
    """Per worker: RSS at the first and last sample and its peak; and whether one served all."""
    if not samples:
        return "-"
    workers = dict.fromkeys(pid for sample in samples for pid in sample)
    parts = []
    for pid in workers:
        sizes = [sample[pid] for sample in samples if pid in sample]
        parts.append(f"{sizes[0]:.0f} → {sizes[-1]:.0f}, peak {max(sizes):.0f}")
    same = all(set(sample) == set(samples[0]) for sample in samples)
    return "; ".join(parts) + (f" ({len(samples)} samples, same {len(workers)} workers "
                               "throughout)" if same else f" ({len(workers)} workers: replaced)")


def median(results: list[dict[str, Any]], field: str) -> float:
    return statistics.median(r[field] for r in results)


def report(measured: list[dict[str, Any]]) -> str:
    """The figures as a Markdown table, with the ratios the targets speak of."""
    lines = ["| database | items | scenario | req/s | p50 ms | p99 ms | ratio |",
             "|---|---|---|---|---|---|---|"]
    for m in measured:
        runs = m["results"]
        base_rate = median(runs["baseline"], "requests_per_second")
        for scenario in SCENARIOS:
            rate = median(runs[scenario], "requests_per_second")
            ratio = ""
            if scenario in ("baseline_304", "feed_200", "feed_200_gzip", "feed_304"):
                ratio = f"{rate / base_rate:.2f} x baseline"
                if scenario == "feed_304":
                    ratio += f", {rate / median(runs['baseline_304'], 'requests_per_second'):.2f}" \
                             " x baseline_304"
            elif scenario == "feed_cold":
                rebuild = median(runs["rebuild"], "requests_per_second")
                wrapped = any(r["wrapped"] for r in runs[scenario])
                ratio = f"{rate / rebuild:.1f} x rebuild" + (" (wrapped)" if wrapped else "")
            lines.append(f"| {m['kind']} | {m['items']:,} | {scenario} | {rate:,.0f} | "
                         f"{median(runs[scenario], 'p50_ms'):.2f} | "
                         f"{median(runs[scenario], 'p99_ms'):.2f} | {ratio} |")
    lines += ["", "| database | scenario | p50 large / p50 small |", "|---|---|---|"]
    for kind in dict.fromkeys(m["kind"] for m in measured):
        sizes = sorted((m for m in measured if m["kind"] == kind), key=lambda m: m["items"])
        if len(sizes) == 2:
            for scenario in SCENARIOS:
                small = median(sizes[0]["results"][scenario], "p50_ms")
                large = median(sizes[1]["results"][scenario], "p50_ms")
                ratio = f"{large / small:.2f}" if small else "n/a"
                lines.append(f"| {kind} | {scenario} | {ratio} |")
    lines += ["", ("| database | items | worker RSS after load (MB) | soak, each worker: "
                   "first → last, peak (MB) |"), "|---|---|---|---|"]
    for m in measured:
        soak_text = soak_summary(m["soak_rss_mb"])
        lines.append(f"| {m['kind']} | {m['items']:,} | "
                     f"{', '.join(f'{r:.0f}' for r in m['rss_after_load_mb'])} | {soak_text} |")
    return "\n".join(lines)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True,
                                 check=False).stdout
    versions = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for package in ("flask", "sqlalchemy", "icalendar", "gunicorn", "psycopg"):
        from importlib.metadata import version
        versions[package] = version(package)
    return (f"{os.cpu_count()} x {cpu}; {wrk_version.split(chr(10))[0].strip()}; "
            + ", ".join(f"{k} {v}" for k, v in versions.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="100,000 items instead of 1,000,000, short runs, a 30 s soak")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server whose user may create databases")
    parser.add_argument("--runs", type=int, help="runs per scenario (default 5)")
    parser.add_argument("--soak", type=int, help="seconds of the RSS soak on the large database")
    parser.add_argument("--feeds-per-account", type=int,
                        help="feeds of each bench account, fetched by the cold scenario")
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "feedsvc-bench")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: install it with 'apt-get install -y wrk' (Debian/Ubuntu).")
    plan = QUICK if args.quick else FULL
    if args.runs:
        plan.runs = args.runs
    if args.soak is not None:
        plan.soak = args.soak
    if args.feeds_per_account:
        plan.feeds_per_account = args.feeds_per_account
    args.workdir.mkdir(parents=True, exist_ok=True)
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    print(machine(), flush=True)
    measured = []
    for kind in kinds:
        measured.extend(measure(kind, plan, args.workdir, args.pg_url))
    print()
    print(f"gunicorn {WORKERS} workers, wrk -t{THREADS} -c{CONNECTIONS}, medians of "
          f"{plan.runs} runs. Targets: {TARGETS}.")
    print(report(measured))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "measured": measured}, indent=1))


if __name__ == "__main__":
    main()
