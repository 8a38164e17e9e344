"""Secrets never reach the access log."""

import datetime as dt
import io
import logging
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from feedsvc.accesslog import MaskedLogger, mask


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('GET /feeds/abcDEF123_-xyz.ics HTTP/1.1', "abcDEF123_-xyz"),
        ('HEAD /feeds/abcDEF123_-xyz.ics?x=1 HTTP/1.1', "abcDEF123_-xyz"),
        ("Bearer fs_s3cr3tTOKEN", "fs_s3cr3tTOKEN"),
        ("GET /x?token=s3cr3t&y=2 HTTP/1.1", "s3cr3t"),
        ("key=s3cr3t&y=2", "s3cr3t"),
        # gunicorn decodes the path before routing, so every spelling reaches the feed.
        ("GET /feeds%2FabcDEF123_-xyz.ics HTTP/1.1", "abcDEF123_-xyz"),
        ("GET /feeds%2fabcDEF123_-xyz.ics HTTP/1.1", "abcDEF123_-xyz"),
        ("GET /%66eeds/abcDEF123_-xyz.ics HTTP/1.1", "abcDEF123_-xyz"),
        ("GET /%66%65%65%64%73%2FabcDEF123_-xyz/google.ics HTTP/1.1", "abcDEF123_-xyz"),
        ("GET //feeds/abcDEF123_-xyz.ics HTTP/1.1", "abcDEF123_-xyz"),
        ("GET /feeds/abc%44EF123_-xyz.ics HTTP/1.1", "abc%44EF123_-xyz"),
        # Every other link whose path carries a secret.
        ("POST /act/AbC-dEf_123 HTTP/1.1", "AbC-dEf_123"),
        ("POST /act/AbC-dEf_123/undo HTTP/1.1", "AbC-dEf_123"),
        ("GET /%61ct/AbC-dEf_123 HTTP/1.1", "AbC-dEf_123"),
        ("GET /confirm/eyJjaGFubmVsIjoxfQ.Z.sig HTTP/1.1", "eyJjaGFubmVsIjoxfQ.Z.sig"),
        ("GET /password/reset/eyJ1IjoxfQ.Z.sig HTTP/1.1", "eyJ1IjoxfQ.Z.sig"),
        ("POST /unsubscribe/eyJjIjoxfQ.sig HTTP/1.1", "eyJjIjoxfQ.sig"),
        ("GET /settings/email/eyJ1IjoxfQ.Z.sig HTTP/1.1", "eyJ1IjoxfQ.Z.sig"),
    ],
)
def test_mask_removes_secrets(line, secret):
    masked = mask(line)
    assert secret not in masked
    assert "[masked]" in masked


def test_mask_leaves_ordinary_lines_alone():
    assert mask("GET /items/3/edit HTTP/1.1") == "GET /items/3/edit HTTP/1.1"


def _logged(log_format: str, path: str, headers: list[tuple[str, str]]) -> str:
    """What gunicorn's masked access log writes for one request, in ``log_format``."""
    config = Config()
    config.set("accesslog", "-")
    config.set("access_log_format", log_format)
    logger = MaskedLogger(config)
    stream = io.StringIO()
    logger.access_log.handlers = [logging.StreamHandler(stream)]
    request = SimpleNamespace(headers=headers)
    response = SimpleNamespace(status="200 OK", sent=120, headers=[("ETag", '"x"')])
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": path, "PATH_INFO": path.split("?")[0],
               "QUERY_STRING": path.partition("?")[2], "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "203.0.113.9", "HTTP_USER_AGENT": "Calendar/1.0"}
    logger.access(response, request, environ, dt.timedelta(milliseconds=3))
    return stream.getvalue()


@pytest.mark.parametrize(
    ("log_format", "path", "headers", "secret"),
    [
        ('%(h)s "%(r)s" %(s)s', "/feeds/abcDEF123_-xyz.ics", [], "abcDEF123_-xyz"),
        ("%(U)s", "/feeds/abcDEF123_-xyz/google.ics", [], "abcDEF123_-xyz"),
        ("%({raw_uri}e)s", "/feeds/abcDEF123_-xyz.ics", [], "abcDEF123_-xyz"),
        ("%(q)s", "/x?token=s3cr3t&y=2", [], "s3cr3t"),
        ("%({authorization}i)s", "/api/v1/items", [("AUTHORIZATION", "Bearer fs_s3cr3t")],
         "fs_s3cr3t"),
        ("%({Authorization}i)s", "/api/v1/items", [("AUTHORIZATION", "Bearer fs_s3cr3t")],
         "fs_s3cr3t"),
    ],
)
def test_access_log_masks_every_field_a_format_uses(log_format, path, headers, secret):
    line = _logged(log_format, path, headers)
    assert secret not in line
    assert "[masked]" in line


def test_access_log_keeps_ordinary_fields():
    line = _logged('%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s" %({etag}o)s %({missing}i)s',
                   "/items/3/edit", [])
    assert line == '203.0.113.9 "GET /items/3/edit HTTP/1.1" 200 120 3ms "Calendar/1.0" \\"x\\" -\n'
