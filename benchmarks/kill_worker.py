"""kill -9 a gunicorn worker in the middle of writes, again and again, then check everything.

The writers and readers of load_writers.py run against gunicorn while a gunicorn worker is
killed with SIGKILL every ``--every`` seconds. A request in flight on the killed worker loses
its answer (a dropped connection, counted apart): the writer then reads the item back and
checks it holds every write acknowledged before. Afterwards: no acknowledged write lost, every
renewal history chains in the database, no 5xx, and the service answered again after each
kill (the time until the next successful request is the recovery time).

    .venv/bin/python benchmarks/kill_worker.py --seconds 30 --every 2
"""

from __future__ import annotations

import http.client
import os
import signal
import sys
import threading
import time
from typing import Any

from load_writers import Server, arguments, print_result, run


def killer(server: Server, stop: threading.Event, args: Any) -> dict[str, Any]:
    """Start killing workers in the background; the figures fill in as it goes."""
    figures: dict[str, Any] = {"workers killed": 0, "longest recovery s": 0.0,
                               "answering after every kill": True}

    def answered(deadline: float) -> bool:
        while time.monotonic() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
                connection.request("GET", "/api/v1/openapi.json")
                if connection.getresponse().status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def loop() -> None:
        while not stop.wait(args.every):
            workers = server.workers()
            if not workers:
                continue
            os.kill(workers[figures["workers killed"] % len(workers)], signal.SIGKILL)
            killed_at = time.monotonic()
            figures["workers killed"] += 1
            if answered(killed_at + 30):
                figures["longest recovery s"] = round(max(figures["longest recovery s"],
                                                          time.monotonic() - killed_at), 3)
            else:
                figures["answering after every kill"] = False

    threading.Thread(target=loop, daemon=True).start()
    return figures


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=2.0, help="seconds between kills")
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    failed = False
    for kind in kinds:
        result = run(kind, args, chaos=killer)
        print_result(result)
        failed |= bool(result["5xx"] or result["lost writes"] or result["broken chains"]
                       or not result["answering after every kill"])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
