"""deploy/ is what it says: systemd units that systemd accepts, an nginx site that nginx
parses, and an environment file naming every setting.

The units are checked with ``systemd-analyze verify`` and the site with ``nginx -t``; each
test skips, saying why, on a machine without the tool (the nginx one fails instead when
``FEEDSVC_REQUIRE_BROWSER=1``: CI installs nginx for the https browser test, which runs the
same site in front of gunicorn).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from feedsvc.config import SETTINGS

from e2e.helpers import unavailable
from helpers.servers import (
    NGINX_SITE,
    ROOT,
    SITE_UPSTREAM,
    nginx_command,
    nginx_missing,
    render_nginx,
)

DEPLOY = ROOT / "deploy"
UNITS = ("feedsvc.service", "feedsvc-remind.service")
ENV_EXAMPLE = DEPLOY / "feedsvc.env.example"
# Where deploy/README.md installs the virtualenv, as the units name it.
INSTALL_PREFIX = "/opt/feedsvc/venv"
SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"
TOOL_TIMEOUT = 60


def render_units(folder: Path) -> list[Path]:
    """The units with the install prefix replaced by this interpreter's virtualenv, whose
    ``feedsvc`` and ``gunicorn`` scripts ``verify`` then finds."""
    bin_dir = Path(sys.prefix) / "bin"
    for script in ("gunicorn", "feedsvc"):
        assert os.access(bin_dir / script, os.X_OK), \
            f"no {script} in {bin_dir}: run the tests with the virtualenv's Python"
    rendered = []
    for unit in UNITS:
        text = (DEPLOY / "systemd" / unit).read_text()
        assert INSTALL_PREFIX in text, f"{unit} does not run from {INSTALL_PREFIX}"
        (folder / unit).write_text(text.replace(INSTALL_PREFIX, sys.prefix))
        rendered.append(folder / unit)
    return rendered


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    if not os.access(SYSTEMD_ANALYZE, os.X_OK):
        pytest.skip(f"no {SYSTEMD_ANALYZE} on this machine (it comes with systemd)")
    units = render_units(tmp_path)
    result = subprocess.run([SYSTEMD_ANALYZE, "verify", *map(str, units)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=TOOL_TIMEOUT,
                            check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Unknown keys and bad values are only warnings (exit code 0): none may mention our units.
    about_units = [line for line in output.splitlines()
                   if any(unit in line for unit in UNITS) or str(tmp_path) in line]
    assert not about_units, "\n".join(about_units)


def test_the_units_run_the_documented_commands() -> None:
    web = (DEPLOY / "systemd" / "feedsvc.service").read_text()
    remind = (DEPLOY / "systemd" / "feedsvc-remind.service").read_text()
    assert (f"ExecStart={INSTALL_PREFIX}/bin/gunicorn -c python:feedsvc.gunicorn_config"
            in web)
    assert "ExecReload=/bin/kill -HUP $MAINPID" in web
    assert f"ExecStart={INSTALL_PREFIX}/bin/feedsvc remind --loop" in remind
    for unit in (web, remind):
        assert "User=feedsvc" in unit
        assert "EnvironmentFile=/etc/feedsvc/feedsvc.env" in unit
        assert "StateDirectory=feedsvc" in unit
        assert "FEEDSVC_INSTANCE_PATH=/var/lib/feedsvc" in unit
        assert "ProtectSystem=strict" in unit


def test_the_nginx_site_parses(tmp_path: Path) -> None:
    reason = nginx_missing()
    if reason:
        unavailable(reason)  # skips, or fails where the browser tests are required
    conf = render_nginx(tmp_path, https_port=8443, http_port=8080, upstream=SITE_UPSTREAM)
    result = subprocess.run(nginx_command(conf, "-t"), capture_output=True, text=True,
                            timeout=TOOL_TIMEOUT, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "[warn]" not in output and "[emerg]" not in output, output


def test_the_nginx_site_proxies_as_the_service_needs() -> None:
    site = NGINX_SITE.read_text()
    for directive in (
        "proxy_buffering on;",
        "proxy_set_header Host $http_host;",
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header Accept-Encoding $http_accept_encoding;",
        "client_max_body_size 1m;",
        "location = /healthz",
        "return 301 https://$host$request_uri;",
    ):
        assert directive in site, directive
    # The client's own chain would let it choose the address the throttles count.
    assert "$proxy_add_x_forwarded_for" not in site


def gunicorn_settings() -> set[str]:
    """The environment variables the gunicorn settings read."""
    found: set[str] = set()
    read = re.compile(r"os\.environ\.get\(\s*[\"']([A-Z_]+)[\"']")
    for path in (ROOT / "feedsvc" / "gunicorn_config.py", ROOT / "gunicorn.conf.py"):
        if path.is_file():
            found |= set(read.findall(path.read_text()))
    return found


def test_the_environment_file_names_every_setting() -> None:
    example = ENV_EXAMPLE.read_text()
    named = set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    wanted = {setting.name for setting in SETTINGS} | gunicorn_settings()
    assert "FEEDSVC_BIND" in wanted and "WEB_CONCURRENCY" in wanted
    assert not wanted - named, f"missing from {ENV_EXAMPLE.relative_to(ROOT)}"
    # Values that must be set in production are set, not commented out.
    assert "\nFEEDSVC_BASE_URL=https://" in example
    assert "\nFEEDSVC_FORWARDED_ALLOW_IPS=127.0.0.1\n" in example
