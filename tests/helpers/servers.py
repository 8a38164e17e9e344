"""Real processes for the tests that need them: gunicorn, nginx with deploy/'s site and a
self-signed certificate, free ports of 127.0.0.1, and HTTP requests straight to them.

Every wait is bounded, so a process that never answers fails its test instead of hanging
it, and every process is stopped, first gently, then for good.
"""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.prefix) / "bin"
START_SECONDS = 60
STOP_SECONDS = 15
REQUEST_SECONDS = 10


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports of 127.0.0.1 that were free a moment ago."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler], **state: Any
                ) -> Iterator[ThreadingHTTPServer]:
    """A real HTTP server on a free port of 127.0.0.1, served from a thread, with ``state``
    as its attributes (for the handler to read and change); stopped at the end."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    for name, value in state.items():
        setattr(httpd, name, value)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def child_environment(**settings: str) -> dict[str, str]:
    """This process's environment without any feedsvc, gunicorn or Python path setting,
    plus ``settings``: a child then runs on exactly what its test gives it."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("FEEDSVC_", "GUNICORN_", "PYTHONPATH", "FLASK_"))
           and name != "WEB_CONCURRENCY"}
    return {**env, "PYTHONUNBUFFERED": "1", **settings}


@dataclass
class Response:
    """One HTTP answer, read whole."""

    status: int
    headers: Message
    body: bytes


def fetch(url: str, *, method: str = "GET", body: bytes | Iterable[bytes] | None = None,
          headers: dict[str, str] | None = None, tls: ssl.SSLContext | None = None
          ) -> Response:
    """One request to ``url``, following no redirect and no proxy; an iterable body goes
    out chunked. https is verified against ``tls``."""
    parts = urlsplit(url)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.hostname or "", parts.port,
                                                 timeout=REQUEST_SECONDS, context=tls)
    else:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port,
                                                timeout=REQUEST_SECONDS)
    try:
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""),
                           body=body, headers=headers or {},
                           encode_chunked=body is not None and not isinstance(body, bytes))
        answer = connection.getresponse()
        return Response(answer.status, answer.headers, answer.read())
    finally:
        connection.close()


def answers_200(url: str, tls: ssl.SSLContext | None = None) -> bool:
    """Whether ``url`` answers 200 now (a refused or failing connection is a no)."""
    try:
        return fetch(url, tls=tls).status == 200
    except (OSError, http.client.HTTPException):
        return False


def start(command: list[str], log: Path, env: dict[str, str], cwd: Path = ROOT
          ) -> subprocess.Popen[bytes]:
    """Start ``command`` in a process group of its own, its output going to ``log``."""
    with log.open("wb") as output:
        return subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM (a graceful stop), then SIGKILL to the group if it lingers; the exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            return process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return process.wait(STOP_SECONDS)


def wait_until(ready: Callable[[], bool], what: str, process: subprocess.Popen[bytes],
               log: Path) -> None:
    """Poll ``ready`` until it holds; fail, showing ``log``, if ``process`` exits first or
    time runs out."""
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            outcome = (f"exited with status {process.returncode}"
                       if process.returncode is not None
                       else f"did not answer within {START_SECONDS} s")
            pytest.fail(f"{what} {outcome}:\n{log.read_text(errors='replace')}",
                        pytrace=False)
        time.sleep(0.1)


@contextmanager
def running(command: list[str], log: Path, env: dict[str, str], health_url: str, *,
            cwd: Path = ROOT, tls: ssl.SSLContext | None = None) -> Iterator[None]:
    """``command`` running until the block ends, once ``health_url`` answers 200; it must
    then stop cleanly on SIGTERM (status 0)."""
    process = start(command, log, env, cwd)
    try:
        wait_until(lambda: answers_200(health_url, tls), command[0], process, log)
        yield
    except BaseException:
        stop(process)
        raise
    status = stop(process)
    assert status == 0, f"{command[0]} stopped with status {status}:\n{log.read_text()}"


def gunicorn_command(*args: str) -> list[str]:
    """gunicorn from this virtualenv; no control socket, which would go to ~/.gunicorn,
    shared with every other gunicorn of the user."""
    return [str(BIN / "gunicorn"), *args, "--no-control-socket"]


# nginx with deploy/nginx/feedsvc.conf.

NGINX = "/usr/sbin/nginx"
NGINX_SITE = ROOT / "deploy" / "nginx" / "feedsvc.conf"
# The literal strings of the site that a self-hoster (and ``render_nginx``) replaces, as
# its header lists them. The certificate paths come before the host name they contain.
SITE_CERTIFICATE = "/etc/letsencrypt/live/feeds.example.org/fullchain.pem"
SITE_KEY = "/etc/letsencrypt/live/feeds.example.org/privkey.pem"
SITE_SERVER_NAME = "feeds.example.org"
SITE_UPSTREAM = "127.0.0.1:8000"
SITE_LISTEN = {
    "https": ("listen 443 ssl;", "listen [::]:443 ssl;"),
    "http": ("listen 80;", "listen [::]:80;"),
}
# Everything nginx writes goes into the prefix, so neither root nor /var is needed; one
# foreground process (no master, no daemon) is all a test has to stop.
NGINX_CONF = """\
daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;
events {{
    worker_connections 128;
}}
http {{
    access_log {prefix}/access.log;
    default_type application/octet-stream;
    client_body_temp_path {prefix}/temp/client_body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    include {prefix}/feedsvc.conf;
}}
"""


def nginx_missing() -> str | None:
    """Why nginx cannot run here, or None."""
    if os.access(NGINX, os.X_OK):
        return None
    return f"no nginx at {NGINX} (on Debian: apt-get install nginx)"


def write_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (certificate, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "certificate.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def render_nginx(prefix: Path, *, https_port: int, http_port: int, upstream: str) -> Path:
    """deploy/nginx/feedsvc.conf for 127.0.0.1, with a fresh certificate, inside a minimal
    nginx.conf in ``prefix``; returns the nginx.conf to give ``nginx -p prefix -c``."""
    (prefix / "temp").mkdir(parents=True, exist_ok=True)
    cert_path, key_path = write_certificate(prefix)
    site = NGINX_SITE.read_text()
    replacements = [
        (SITE_CERTIFICATE, str(cert_path)),
        (SITE_KEY, str(key_path)),
        (SITE_SERVER_NAME, "127.0.0.1 localhost"),
        (SITE_UPSTREAM, upstream),
        # Loopback only here: IPv4 on the chosen ports, no IPv6 listener.
        (SITE_LISTEN["https"][0], f"listen 127.0.0.1:{https_port} ssl;"),
        (SITE_LISTEN["https"][1], ""),
        (SITE_LISTEN["http"][0], f"listen 127.0.0.1:{http_port};"),
        (SITE_LISTEN["http"][1], ""),
    ]
    for placeholder, value in replacements:
        assert placeholder in site, f"{NGINX_SITE.relative_to(ROOT)} lost {placeholder!r}"
        site = site.replace(placeholder, value)
    (prefix / "feedsvc.conf").write_text(site)
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix))
    return conf


def nginx_command(conf: Path, *args: str) -> list[str]:
    """nginx on ``conf``, with its prefix and error log beside it (not /var/log)."""
    return [NGINX, "-p", str(conf.parent), "-c", str(conf), "-e",
            str(conf.parent / "error.log"), *args]
