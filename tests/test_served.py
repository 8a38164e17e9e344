"""What only a real server shows: gunicorn's chunked bodies, decoded paths and access log."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from helpers.servers import (
    BIN,
    Response,
    child_environment,
    fetch,
    free_ports,
    gunicorn_command,
    running,
)


@dataclass
class Served:
    """gunicorn serving the checkout on a fresh instance, with its access log."""

    origin: str
    access_log: Path
    token: str

    def request(self, method: str, path: str, body: bytes | Iterable[bytes] | None = None,
                headers: dict[str, str] | None = None) -> Response:
        return fetch(self.origin + path, method=method, body=body, headers=headers)

    def api(self, method: str, path: str, body: bytes | Iterable[bytes] | None = None
            ) -> Response:
        return self.request(method, path, body, {
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    instance = tmp_path_factory.mktemp("served")
    (port,) = free_ports(1)
    origin = f"http://127.0.0.1:{port}"
    env = child_environment(
        FEEDSVC_INSTANCE_PATH=str(instance), FEEDSVC_BIND=f"127.0.0.1:{port}",
        FEEDSVC_BASE_URL=origin, WEB_CONCURRENCY="1",
        FEEDSVC_ACCESS_LOG=str(instance / "access.log"))

    def feedsvc(*args: str, given: str | None = None) -> str:
        return subprocess.run([str(BIN / "feedsvc"), *args], input=given, env=env,
                              check=True, capture_output=True, text=True).stdout

    feedsvc("db", "upgrade")
    feedsvc("user", "create", "someone@example.com", "--password-stdin",
            given="correct horse battery\n")
    token = feedsvc("token", "create", "someone@example.com").strip()
    with running(gunicorn_command("wsgi:app"), instance / "gunicorn.log", env,
                 origin + "/healthz"):
        yield Served(origin, instance / "access.log", token)


def chunks(data: bytes, size: int = 16_384) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def test_a_chunked_body_over_the_limit_is_413(served: Served) -> None:
    body = json.dumps({"title": "x" * 300_000, "due_date": "2027-03-31"}).encode()
    answer = served.api("POST", "/api/v1/items", chunks(body))
    assert answer.status == 413, answer.body
    assert json.loads(answer.body)["error"]["status"] == 413


def test_a_chunked_body_within_the_limit_is_read_whole(served: Served) -> None:
    # Longer than one of Werkzeug's reads, with what makes it a valid document at its end.
    body = (b'{"title": "Chunked", "due_date": "2027-03-31",' + b" " * 200_000
            + b'"notes": "' + b"n" * 5000 + b'"}')
    answer = served.api("POST", "/api/v1/items", chunks(body))
    assert answer.status == 201, answer.body
    assert json.loads(answer.body)["notes"] == "n" * 5000


@pytest.mark.parametrize("spelling", ["/feeds/{}.ics", "/feeds%2F{}.ics", "/%66eeds/{}.ics",
                                      "/%66%65%65%64%73%2f{}/google.ics"])
def test_a_feed_token_never_reaches_the_access_log(served: Served, spelling: str) -> None:
    answer = served.api("POST", "/api/v1/feeds", json.dumps({"name": spelling}).encode())
    assert answer.status == 201, answer.body
    token = json.loads(answer.body)["url"].rsplit("/", 1)[1].removesuffix(".ics")
    feed = served.request("GET", spelling.format(token))
    assert feed.status == 200
    assert feed.body.startswith(b"BEGIN:VCALENDAR")
    time.sleep(0.2)  # the log line is written after the answer
    log = served.access_log.read_text()
    assert "[masked]" in log
    assert token not in log


def test_the_access_log_shows_the_client_behind_the_trusted_proxy(served: Served) -> None:
    served.request("GET", "/login", headers={"X-Forwarded-For": "198.51.100.23"})
    time.sleep(0.2)
    lines = [line for line in served.access_log.read_text().splitlines() if "/login" in line]
    assert lines and lines[-1].startswith("198.51.100.23 ")


def log_in(served: Served, client: str, password: str) -> int:
    """A log-in through the form by ``client``, as the trusted proxy in front tells it."""
    forwarded = {"X-Forwarded-For": client}
    page = served.request("GET", "/login", headers=forwarded)
    cookie = page.headers["Set-Cookie"].split(";")[0]
    token = page.body.decode().split('name="csrf_token" value="')[1].split('"')[0]
    form = urlencode({"csrf_token": token, "email": "someone@example.com",
                      "password": password}).encode()
    return served.request("POST", "/login", form, {
        **forwarded, "Cookie": cookie,
        "Content-Type": "application/x-www-form-urlencoded"}).status


def test_wrong_passwords_from_one_client_do_not_lock_out_another(served: Served) -> None:
    statuses = [log_in(served, "198.51.100.1", "wrong password") for _ in range(15)]
    assert statuses == [422] * 10 + [429] * 5
    assert log_in(served, "198.51.100.2", "correct horse battery") == 302
    assert log_in(served, "198.51.100.1", "correct horse battery") == 429
