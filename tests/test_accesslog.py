"""Secrets never reach the access log."""

import pytest

from feedsvc.accesslog import mask


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('GET /feeds/abcDEF123_-xyz.ics HTTP/1.1', "abcDEF123_-xyz"),
        ('HEAD /feeds/abcDEF123_-xyz.ics?x=1 HTTP/1.1', "abcDEF123_-xyz"),
        ("Bearer fs_s3cr3tTOKEN", "fs_s3cr3tTOKEN"),
        ("GET /x?token=s3cr3t&y=2 HTTP/1.1", "s3cr3t"),
    ],
)
def test_mask_removes_secrets(line, secret):
    masked = mask(line)
    assert secret not in masked
    assert "[masked]" in masked


def test_mask_leaves_ordinary_lines_alone():
    assert mask("GET /items/3/edit HTTP/1.1") == "GET /items/3/edit HTTP/1.1"
