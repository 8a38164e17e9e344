"""Form fuzzing: hypothesis fills every web form with random values and posts it.

Each form is read the way a browser reads it (with its CSRF token), its visible fields are
replaced or left out at random, and the answer must be below 500; a refusal (422) must show
its errors next to the fields and keep what was typed. ``FEEDSVC_FUZZ_EXAMPLES`` sets the
examples per form (default 20; a longer run is in benchmarks/README.md).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsvc import create_app
from feedsvc.db import get_engine

from helpers import VALID_ITEM, Api, Browser, Page, app_config, make_user, signed_in

EXAMPLES = int(os.environ.get("FEEDSVC_FUZZ_EXAMPLES", "20"))
FIXED = {"csrf_token", "version", "next"}
INTERESTING = ["", " ", "0", "-1", "1", "365", "366", "99999999999999999999", "1e400", "NaN",
               "2026-02-30", "2026-12-31", "0001-01-01", "9999-12-31", "24:00", "09:00", "RU",
               "EUR", "sim", "month", "schedule", "Europe/Moscow", "zh-Hans", "on",
               "\x00", "a\r\nb", "<script>alert(1)</script>", "' OR 1=1 --", "𝔘𝔫𝔦", "保号卡",
               "https://example.org/", "javascript:alert(1)", "x" * 5001, "+7 916 123 45 67"]
VALUES = st.one_of(st.sampled_from(INTERESTING),
                   st.text(st.characters(exclude_categories=("Cs",)), max_size=60))
# path template → whether it needs a signed-in browser
FORMS = ["/signup", "/login", "/items/new", "/items/{item}", "/items/{item}/renew",
         "/settings", "/settings/password", "/settings/delete", "/tokens", "/calendars/new",
         "/calendars/{feed}"]
CHECKBOXES = ("auto_renew", "archived", "use_default_alarms", "reminder_events", "show_numbers",
              "action_links")
TALLY: Counter[str] = Counter()
STATUSES: Counter[int] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report() -> Any:
    yield
    print(f"\nform fuzzing: {TALLY['posts']} posts into {len(FORMS)} forms, {TALLY['5xx']} "
          f"answered 5xx; statuses {dict(sorted(STATUSES.items()))}")


@pytest.fixture
def fuzz_app(database_url: str, tmp_path: Path) -> Any:
    app = create_app(app_config(tmp_path / "fuzz", database_url, FEEDSVC_RATE_LIMITS="off"))
    yield app
    get_engine(app).dispose()


def kept(sent: str) -> bool:
    """Values a form can show back unchanged (no line breaks or padding to normalise)."""
    return sent == sent.strip() and not any(ord(c) < 32 or 0x7f <= ord(c) <= 0x9f for c in sent)


@pytest.mark.parametrize("template", FORMS)
def test_random_input_in_every_form_never_gives_a_5xx(fuzz_app: Flask, template: str) -> None:
    someone = make_user(fuzz_app)
    api = Api(fuzz_app.test_client(), someone["token"])
    item = api.post("/api/v1/items", json=VALID_ITEM).json
    feed = api.post("/api/v1/feeds", json={"name": "All"}).json
    path = template.format(item=item["id"], feed=feed["id"])
    signed = template not in ("/signup", "/login")
    page = Browser(fuzz_app.test_client()).get(path) if not signed else None
    if signed:
        page = signed_in(fuzz_app.test_client(), someone).get(path)
    assert page is not None and page.status == 200, (path, page.status if page else None)
    form = page.form()
    names = sorted(name for name in form.fields if name not in FIXED)
    # Controls a browser sends only when ticked are worth fuzzing too.
    names += [n for n in CHECKBOXES if f'name="{n}"' in page.text and n not in names]
    # A browser sends a ticked box as "on" and leaves an unticked one out.
    changes = st.fixed_dictionaries({
        name: st.sampled_from([None, "on"]) if name in CHECKBOXES else st.one_of(st.none(), VALUES)
        for name in names})

    @given(changes=changes)
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    def post(changes: dict[str, str | None]) -> None:
        client = fuzz_app.test_client()
        browser = signed_in(client, someone) if signed else Browser(client)
        fresh = browser.get(path)
        if fresh.status != 200:  # e.g. the account was changed by an earlier example
            return
        data = {**fresh.form().fields}
        for name, value in changes.items():
            if value is None:
                data.pop(name, None)
            else:
                data[name] = value
        answer = Page(client.post(fresh.form().action or path, data=data))
        TALLY["posts"] += 1
        STATUSES[answer.status] += 1
        TALLY["5xx"] += answer.status >= 500
        assert answer.status < 500, (path, data, answer.text[:500])
        if answer.status == 422:
            assert 'class="field-error"' in answer.text or 'class="form-message"' in answer.text
            shown = answer.form(fresh.form().action or path).fields
            for name, value in data.items():
                if name in CHECKBOXES:
                    assert (name in shown) == (name in data), (path, name, "ticked box kept")
                elif name in shown and name not in FIXED and "password" not in name \
                        and name != "confirm" and kept(value):
                    assert shown[name] == value, (path, name, value, shown[name])

    post()
