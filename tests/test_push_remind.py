"""End to end: the demo account's due reminders reach a local ntfy-compatible server and a
local JSON webhook (with a digest) from ``feedsvc remind``, and the ntfy buttons work."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select

from feedsvc import channels, create_app, demo
from feedsvc.db import get_engine, new_session
from feedsvc.models import Item, User

from helpers import SECRET_KEY, Browser, app_config, sender_environment
from helpers.pushserver import push_service
from helpers.servers import BIN


def test_feedsvc_remind_sends_the_demo_s_reminders_to_ntfy_and_a_webhook_digest(
        database_url: str, tmp_path: Path) -> None:
    app = create_app(app_config(tmp_path / "instance", database_url,
                                FEEDSVC_CHANNEL_ALLOW_HOSTS="127.0.0.1"))
    with push_service() as ntfy, push_service() as webhook:
        # A digest time that has just passed in the demo's zone: today's digest is due.
        local = dt.datetime.now(ZoneInfo(demo.DEMO_TIMEZONE)) - dt.timedelta(minutes=1)
        with app.app_context(), new_session(app) as session:
            assert demo.create_demo(session, SECRET_KEY)
            user = session.scalars(select(User).where(User.email == demo.DEMO_EMAIL)).one()
            now = dt.datetime.now(dt.UTC)
            channels.add_channel(session, user, {
                "kind": "apprise", "url": f"ntfy://127.0.0.1:{ntfy.server_port}/demo-sims"},
                now, app.config)
            channels.add_channel(session, user, {
                "kind": "apprise", "url": f"json://127.0.0.1:{webhook.server_port}/hook",
                "digest": local.strftime("%H:%M")}, now, app.config)
            session.commit()
        env = sender_environment(app, FEEDSVC_CHANNEL_ALLOW_HOSTS="127.0.0.1")
        result = subprocess.run([str(BIN / "feedsvc"), "remind"], capture_output=True,
                                text=True, env=env, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        # Montenegro (due in 6 days) and MTS (12): each one's 14-day alarm, late but useful,
        # to the account's address (the outbox), to ntfy, and in one digest to the webhook.
        assert result.stdout == "sent 6, retrying 0, failed 0, skipped 0\n"
        pushed = list(zip(ntfy.messages(), (headers for _, headers, _ in ntfy.received),
                          strict=True))
        digest = webhook.messages()
    titles = sorted(message["title"].rpartition(" (")[0] for message, _ in pushed)
    assert titles == ["Renew MTS Russia — due in 12 days",
                      "Renew Montenegro prepaid card — due in 6 days"]
    [message] = digest
    assert message["title"].endswith(", and 1 more")
    assert "Montenegro prepaid card" in message["message"] and "MTS Russia" in message["message"]
    assert message["message"].count("https://feeds.example.org/act/") == 4

    # The "I renewed it" button of the Montenegro reminder renews it.
    [(_, headers)] = [(m, h) for m, h in pushed if "Montenegro" in m["title"]]
    renew = unquote(headers["X-Actions"]).split("; ")[0].split(", ")
    assert renew[:2] == ["view", "I renewed it"]
    path = urlsplit(renew[2]).path
    with new_session(app) as session:
        before = session.scalars(select(Item.due_date).where(
            Item.title == "Montenegro prepaid card")).one()
    browser = Browser(app.test_client())
    assert "Montenegro prepaid card" in browser.get(path).text
    page = browser.submit(path, action=path)
    assert page.status == 200, page.text
    with new_session(app) as session:
        after = session.scalars(select(Item.due_date).where(
            Item.title == "Montenegro prepaid card")).one()
    get_engine(app).dispose()
    assert after > before
    assert "Montenegro prepaid card renewed: next due" in page.text
