"""Do the feed's WSGI fast path and each worker's copies earn their place? One run.

    .venv/bin/python benchmarks/caches.py                      # SQLite and PostgreSQL, 5 runs of 5 s
    .venv/bin/python benchmarks/caches.py --quick --db sqlite  # smoke run: 2 runs of 2 s
    .venv/bin/python benchmarks/caches.py --db postgresql --runs 7 --json caches.json

Variants, each its own gunicorn (``benchmarks/run.py``'s ``Server``: the repository's
``gunicorn.conf.py``, 2 sync workers, ``FEEDSVC_RATE_LIMITS=off``, ``FEEDSVC_MAX_REQUESTS=0``),
all on the same seeded database (the 1,000-item one of ``benchmarks/seed.py``):

- ``all``: the service as shipped (WSGI fast path, built calendars kept in the database);
- ``no_fast_path``: ``FastPath`` taken out of the WSGI chain: the Flask route answers;
- ``no_copies``: the workers keep no copies of the entries they served (``store.Copies``).

``benchmarks/app.py`` applies them from ``FEEDSVC_BENCH_*`` variables, and its
``/_bench/variant`` tells, per worker, what it applied; this script checks that after the
warm-up and again at the end (and that the route, per worker, did or did not see feed
requests), and measures no variant that is not what its name says: it names the variant
and the reason, and exits with status 1.

Scenarios, as in ``benchmarks/run.py``: ``baseline`` (``/_bench/fixed``, fixed bytes as
large as the feed), ``feed_200``, ``feed_200_gzip``, ``feed_304`` (``If-None-Match``: the
current ETag) and ``feed_cold`` (one item of every bench account edited, then each bench
feed fetched once with ``paths.lua``, for at most 3 s; "wrapped" if some were fetched
twice). wrk runs ``-t2 -c16``.

All variants' servers are started at once, on free ports of 127.0.0.1, and stay up for
the whole run; only one is loaded at a time, the other waits idle. Runs go turn about
because the machine's speed drifts: run 1 of every variant, then run 2..., the order
rotating by one variant each run. Every server is given the same public base URL
(``FEEDSVC_BENCH_BASE_URL``), so a feed has the same cache key and bytes whichever server
built it: the kept calendars are shared, and a feed edited before one variant's cold run is
built by that variant. The warm feed is fetched before ``feed_200`` so that the rebuild
after the last edit falls outside the measurement.

The table gives medians over the runs and two ratios of requests per second, each the
median of the per-run ratios (range in brackets): a scenario ÷ the same variant's baseline
of that run, and a variant ÷ ``all`` in the same run and scenario. Then what the fast path
buys, with ÷ without it, as it is and with each side first divided by its own baseline; and
what each variant's workers said they ran at the end. ``--report-from FILE`` prints the
tables again from a ``--json`` file.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import run as bench
from benchmarks import seed as seeding
from feedsvc import create_app
from feedsvc.cli import upgrade_database
from feedsvc.config import normalise_database_url
from feedsvc.db import get_engine, get_feed_engine

SCENARIOS = ("baseline", "feed_200", "feed_200_gzip", "feed_304", "feed_cold")
# name: with the fast path
# Each variant: (fast path, copies).
VARIANTS = {"all": (True, True), "no_fast_path": (False, True), "no_copies": (True, False)}
# What each cache buys: (cache, with it, without it).
PAIRS = (("fast path", "all", "no_fast_path"), ("copies", "all", "no_copies"))
# Every server builds links (and cache keys) from this, whatever its port.
BASE_URL = f"http://{bench.HOST}"
ITEMS = 1_000
DB_NAME = "feedsvc_bench_caches"
BENCH_ENV = ("FEEDSVC_BENCH_VARIANT", "FEEDSVC_BENCH_FAST_PATH", "FEEDSVC_BENCH_COPIES",
             "FEEDSVC_BENCH_BASE_URL")


class NotApplied(Exception):
    """A variant's server does not serve what the variant's name says."""


@dataclass
class Variant:
    name: str
    server: bench.Server
    results: dict[str, list[bench.Result]] = field(
        default_factory=lambda: {scenario: [] for scenario in SCENARIOS})
    # Each run's number (from 0) in the order of ``results``' lists.
    runs: list[int] = field(default_factory=list)
    states: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problem: str | None = None


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` (and no other FEEDSVC_BENCH_ setting) for a moment:
    ``run.Server`` passes its own environment on to gunicorn."""
    saved = {name: os.environ.pop(name) for name in BENCH_ENV if name in os.environ}
    os.environ.update(values)
    try:
        yield
    finally:
        for name in BENCH_ENV:
            os.environ.pop(name, None)
        os.environ.update(saved)


def start(name: str, url: str, fixed_bytes: int, log: Path) -> bench.Server:
    fast_path, copies = VARIANTS[name]
    values = {"FEEDSVC_BENCH_VARIANT": name, "FEEDSVC_BENCH_BASE_URL": BASE_URL,
              "FEEDSVC_BENCH_FAST_PATH": "on" if fast_path else "off",
              "FEEDSVC_BENCH_COPIES": "on" if copies else "off"}
    with environment(values):
        return bench.Server(url, bench.free_port(), fixed_bytes, log)


def states(server: bench.Server, rounds: int = 5) -> dict[int, dict[str, Any]]:
    """``/_bench/variant`` of each worker: as many requests at once as there are workers,
    each held 0.2 s, so that each goes to another worker."""
    def one(_: int) -> dict[str, Any]:
        with urllib.request.urlopen(server.base + "/_bench/variant?hold=0.2",
                                    timeout=10) as answer:
            return dict(json.load(answer))

    found: dict[int, dict[str, Any]] = {}
    with concurrent.futures.ThreadPoolExecutor(bench.WORKERS) as pool:
        for _ in range(rounds):
            for state in pool.map(one, range(bench.WORKERS)):
                found[state["pid"]] = state
            if len(found) == bench.WORKERS:
                break
    return found


def check(variant: Variant, moment: str) -> list[str]:
    """What does not match the variant's name, per worker (and notes that do not disqualify).

    Raises NotApplied on a mismatch; returns warnings."""
    fast_path, copies = VARIANTS[variant.name]
    found = states(variant.server)
    variant.states[moment] = list(found.values())
    problems, notes = [], []
    if len(found) < bench.WORKERS:
        notes.append(f"{moment}: reached {len(found)} of {bench.WORKERS} workers")
    for pid, state in found.items():
        where = f"{moment}, worker {pid}"
        if state["variant"] != variant.name:
            problems.append(f"{where}: serves variant {state['variant']!r}")
        if state["fast_path_present"] != fast_path:
            problems.append(f"{where}: fast path {'not found' if fast_path else 'still there'} "
                            f"(chain {state['chain']})")
        if (state["copies"] > 0) != copies:
            problems.append(f"{where}: copies {state['copies']}")
        if state["base_url"] != BASE_URL:
            problems.append(f"{where}: base URL {state['base_url']!r}")
        # The warm-up fetched every bench feed: through the route exactly when there is no
        # fast path (with one, the route only answers what the fast path gives up on).
        routed = state["route_feed_requests"]
        if not fast_path and not routed:
            problems.append(f"{where}: no feed request reached the route")
        if fast_path and routed:
            notes.append(f"{where}: {routed} feed requests reached the route")
    if problems:
        raise NotApplied("; ".join(problems))
    return notes


def prime(base: str, path: str) -> None:
    """Fetch the warm feed (plain and gzip): built after the last edit before it is measured."""
    bench.warm(base, [path] * bench.WORKERS)
    status, headers, _ = bench.fetch(base + path, {"Accept-Encoding": "gzip"})
    if status != 200 or headers.get("Content-Encoding") != "gzip":
        raise RuntimeError(f"gzip fetch of the feed: {status} {headers}")


class Bench:
    """One seeded database and the servers of every variant on it."""

    def __init__(self, kind: str, args: argparse.Namespace) -> None:
        self.kind, self.args = kind, args
        self.variants: list[Variant] = []
        self.edits = 0
        self.url = normalise_database_url(
            bench.create_database(kind, DB_NAME, args.workdir, args.pg_url))
        app = create_app({"FEEDSVC_DATABASE_URL": self.url, "FEEDSVC_SECRET_KEY": bench.SECRET_KEY,
                          "FEEDSVC_BASE_URL": BASE_URL,
                          "INSTANCE_PATH": str(args.workdir / "instance")})
        self.engine = get_engine(app)
        try:
            upgrade_database(app)
            started = time.monotonic()
            self.seeded = seeding.seed(self.engine, bench.SECRET_KEY, ITEMS,
                                       args.feeds_per_account)
            print(f"  seeded {self.seeded.items:,} items, "
                  f"{len(self.seeded.cold_feed_paths) + 1:,} bench feeds in "
                  f"{time.monotonic() - started:.0f} s", flush=True)
            # The baseline returns as many bytes as the feed: its size, built as the servers
            # will build it (same base URL).
            answer = app.test_client().get(self.seeded.feed_path)
            if answer.status_code != 200:
                raise RuntimeError(f"the feed answered {answer.status_code}")
            self.feed_bytes = len(answer.data)
        except BaseException:
            self.engine.dispose()
            bench.drop_database(kind, DB_NAME, self.url, args.pg_url)
            raise
        finally:
            # The feed URLs' own engine, which the test client's fetch used: the servers
            # have theirs.
            get_feed_engine(app).dispose()
        self.paths_file = args.workdir / f"cold-paths-caches-{kind}.txt"
        self.paths_file.write_text("\n".join(self.seeded.cold_feed_paths) + "\n")

    def start_all(self, names: list[str]) -> None:
        for name in names:
            log = self.args.workdir / f"gunicorn-caches-{self.kind}-{name}.log"
            server = start(name, self.url, self.feed_bytes, log)
            self.variants.append(Variant(name, server))
            print(f"  {name}: gunicorn on {server.base} (log {log})", flush=True)

    def warm_all(self) -> list[str]:
        """Every bench feed fetched once through each variant, then each variant checked."""
        notes = []
        for variant in self.variants:
            started = time.monotonic()
            base = variant.server.base
            bench.warm(base, [self.seeded.feed_path, *self.seeded.cold_feed_paths])
            prime(base, self.seeded.feed_path)
            status, _, body = bench.fetch(base + "/_bench/fixed")
            if status != 200 or len(body) != self.feed_bytes:
                raise RuntimeError(f"{variant.name} baseline: {status}, {len(body)} bytes")
            try:
                notes += [f"{variant.name}: {note}" for note in check(variant, "after warm-up")]
            except NotApplied as error:
                variant.problem = str(error)
                print(f"  {variant.name}: NOT APPLIED, not measured: {error}", flush=True)
                continue
            print(f"  {variant.name}: warmed {len(self.seeded.cold_feed_paths) + 1:,} feeds in "
                  f"{time.monotonic() - started:.0f} s, checked", flush=True)
        return notes

    def load(self, variant: Variant, run: int) -> None:
        """Every scenario once on one variant."""
        base, path = variant.server.base, self.seeded.feed_path
        duration, cold = self.args.duration, min(self.args.duration, 3)
        results = variant.results
        results["baseline"].append(bench.wrk(base + "/_bench/fixed", duration))
        prime(base, path)
        results["feed_200"].append(bench.wrk(base + path, duration))
        results["feed_200_gzip"].append(
            bench.wrk(base + path, duration, {"Accept-Encoding": "gzip"}))
        etag = bench.fetch(base + path)[1]["ETag"]
        status = bench.fetch(base + path, {"If-None-Match": etag})[0]
        if status != 304:
            raise RuntimeError(f"{variant.name}: If-None-Match with the ETag answered {status}")
        results["feed_304"].append(bench.wrk(base + path, duration, {"If-None-Match": etag}))
        # Requests wrk left in flight are still being answered: let them finish before the
        # edit, which would turn them into 200s from the route (and load the cold run).
        time.sleep(0.5)
        self.edits += 1
        seeding.edit(self.engine, self.seeded.edit_item_ids, self.edits)
        results["feed_cold"].append(bench.wrk(
            base + "/", cold, {},
            [str(ROOT / "benchmarks" / "paths.lua"), str(self.paths_file), str(bench.THREADS)]))
        variant.runs.append(run)
        print(f"  {self.kind} run {run + 1}/{self.args.runs} {variant.name}: "
              + ", ".join(f"{s} {results[s][-1].requests_per_second:.0f}/s" for s in SCENARIOS),
              flush=True)

    def measure(self) -> list[str]:
        measured = [v for v in self.variants if v.problem is None]
        for run in range(self.args.runs):
            shift = run % len(measured) if measured else 0
            for variant in measured[shift:] + measured[:shift]:
                self.load(variant, run)
        notes = []
        for variant in measured:
            try:
                notes += [f"{variant.name}: {note}" for note in check(variant, "at the end")]
            except NotApplied as error:
                variant.problem = f"at the end: {error}"
                print(f"  {variant.name}: NOT APPLIED at the end: {error}", flush=True)
        return notes

    def close(self) -> None:
        for variant in self.variants:
            with contextlib.suppress(Exception):
                variant.server.stop()
        self.engine.dispose()
        bench.drop_database(self.kind, DB_NAME, self.url, self.args.pg_url)

    def figures(self) -> dict[str, Any]:
        return {"kind": self.kind, "items": self.seeded.items, "feed_bytes": self.feed_bytes,
                "cold_feeds": len(self.seeded.cold_feed_paths),
                "variants": {v.name: {"problem": v.problem, "runs": v.runs, "states": v.states,
                                      "results": {s: [asdict(r) for r in rs]
                                                  for s, rs in v.results.items()}}
                             for v in self.variants}}


def _ratio(values: list[float]) -> str:
    if not values:
        return ""
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def _rates(figures: dict[str, Any], name: str, scenario: str) -> dict[int, float]:
    """Requests per second of one variant and scenario, by run."""
    variant = figures["variants"].get(name)
    if variant is None or variant["problem"]:
        return {}
    return {run: result["requests_per_second"]
            for run, result in zip(variant["runs"], variant["results"][scenario], strict=True)}


def _over_baseline(figures: dict[str, Any], name: str, scenario: str) -> dict[int, float]:
    """A scenario's requests per second ÷ the same variant's baseline in the same run."""
    base = _rates(figures, name, "baseline")
    return {run: rate / base[run]
            for run, rate in _rates(figures, name, scenario).items() if base.get(run)}


def _per_run(over: dict[int, float], under: dict[int, float]) -> list[float]:
    return [over[run] / under[run] for run in over if under.get(run)]


def applied(measured: list[dict[str, Any]]) -> str:
    """What each variant's workers said they run, at the end (or when last asked)."""
    lines = [("| database | variant | WSGI chain | "
              "feed requests the route answered, per worker |"), "|---|---|---|---|"]
    for figures in measured:
        for name, variant in figures["variants"].items():
            found = variant["states"].get("at the end") or variant["states"].get(
                "after warm-up") or []
            if not found:
                lines.append(f"| {figures['kind']} | {name} | (no answer) | |")
                continue
            state = found[0]
            lines.append(
                f"| {figures['kind']} | {name} | {' → '.join(state['chain'])} | "
                f"{', '.join(str(w['route_feed_requests']) for w in found)} |")
    return "\n".join(lines)


def report(measured: list[dict[str, Any]]) -> str:
    lines = ["| database | variant | scenario | req/s | p50 ms | p99 ms | ÷ baseline | ÷ all |",
             "|---|---|---|---|---|---|---|---|"]
    for figures in measured:
        for name, variant in figures["variants"].items():
            if variant["problem"]:
                lines.append(f"| {figures['kind']} | {name} | NOT APPLIED, not measured: "
                             f"{variant['problem']} | | | | | |")
                continue
            for scenario in SCENARIOS:
                results = variant["results"][scenario]
                rates = _rates(figures, name, scenario)
                over_base = "" if scenario == "baseline" else _ratio(
                    list(_over_baseline(figures, name, scenario).values()))
                over_all = "" if name == "all" else _ratio(
                    _per_run(rates, _rates(figures, "all", scenario)))
                wrapped = " (wrapped)" if any(r["wrapped"] for r in results) else ""
                lines.append(
                    f"| {figures['kind']} | {name} | {scenario}{wrapped} | "
                    f"{bench.median(results, 'requests_per_second'):,.0f} | "
                    f"{bench.median(results, 'p50_ms'):.2f} | "
                    f"{bench.median(results, 'p99_ms'):.2f} | {over_base} | {over_all} |")
    lines += ["", ("What each cache buys: req/s with it ÷ without it, median of the per-run "
                   "ratios (range)."), "",
              "| database | cache | with ÷ without | " + " | ".join(SCENARIOS) + " |",
              "|---|---|---|" + "---|" * len(SCENARIOS)]
    for figures in measured:
        for cache, with_it, without in PAIRS:
            cells = [_ratio(_per_run(_rates(figures, with_it, s), _rates(figures, without, s)))
                     or "n/a" for s in SCENARIOS]
            lines.append(f"| {figures['kind']} | {cache} | {with_it} ÷ {without} | "
                         + " | ".join(cells) + " |")
    feeds = SCENARIOS[1:]
    lines += ["", ("The same with each side first divided by its own baseline of that run (the "
                   "two variants are loaded a minute or so apart within a run)."), "",
              "| database | cache | with ÷ without | " + " | ".join(feeds) + " |",
              "|---|---|---|" + "---|" * len(feeds)]
    for figures in measured:
        for cache, with_it, without in PAIRS:
            cells = [_ratio(_per_run(_over_baseline(figures, with_it, s),
                                     _over_baseline(figures, without, s))) or "n/a"
                     for s in feeds]
            lines.append(f"| {figures['kind']} | {cache} | {with_it} ÷ {without} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 2 runs of 2 s, 40 feeds per bench account")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server whose user may create databases")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated, from: " + ", ".join(VARIANTS))
    parser.add_argument("--runs", type=int, help="runs of every variant (default 5, quick 2)")
    parser.add_argument("--duration", type=int,
                        help="seconds of each wrk run (default 5, quick 2; feed_cold at most 3)")
    parser.add_argument("--feeds-per-account", type=int,
                        help="feeds of each of the 20 bench accounts (default 100, quick 40)")
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "feedsvc-bench")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    parser.add_argument("--report-from", type=Path, metavar="JSON",
                        help="only print the tables of a file written by --json")
    args = parser.parse_args()
    if args.report_from:
        saved = json.loads(args.report_from.read_text())
        print(report(saved["measured"]))
        print()
        print(applied(saved["measured"]))
        return 0
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: install it with 'apt-get install -y wrk' (Debian/Ubuntu).")
    args.runs = args.runs or (2 if args.quick else 5)
    args.duration = args.duration or (2 if args.quick else 5)
    args.feeds_per_account = args.feeds_per_account or (40 if args.quick else 100)
    names = [name.strip() for name in args.variants.split(",") if name.strip()]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown or not names:
        sys.exit(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    print(bench.machine(), flush=True)
    measured, notes = [], []
    for kind in kinds:
        print(f"{kind}, {ITEMS:,} items: variants {', '.join(names)}", flush=True)
        setup = Bench(kind, args)
        try:
            setup.start_all(names)
            notes += [f"{kind} {note}" for note in setup.warm_all()]
            notes += [f"{kind} {note}" for note in setup.measure()]
        finally:
            setup.close()
        measured.append(setup.figures())
    print()
    print(f"gunicorn {bench.WORKERS} workers per variant, wrk -t{bench.THREADS} "
          f"-c{bench.CONNECTIONS}, {args.duration} s per scenario (feed_cold "
          f"{min(args.duration, 3)} s), medians of {args.runs} runs, variants turn about.")
    print(report(measured))
    print()
    print(applied(measured))
    for note in notes:
        print(f"note: {note}")
    failed = [f"{m['kind']} {name}: {v['problem']}" for m in measured
              for name, v in m["variants"].items() if v["problem"]]
    for failure in failed:
        print(f"NOT APPLIED: {failure}")
    if args.json:
        args.json.write_text(json.dumps(
            {"machine": bench.machine(), "settings": {
                "runs": args.runs, "duration": args.duration,
                "feeds_per_account": args.feeds_per_account, "variants": names,
                "base_url": BASE_URL},
             "measured": measured, "notes": notes}, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
