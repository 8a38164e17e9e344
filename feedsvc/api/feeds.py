"""/api/v1/feeds: list, create, change, rotate and delete the account's feeds."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify

from feedsvc import feeds
from feedsvc.api import bp, current_user, json_body
from feedsvc.baseurl import public_base_url
from feedsvc.db import get_session
from feedsvc.models import Feed
from feedsvc.schemas import FeedOut


def feed_json(feed: Feed) -> dict[str, Any]:
    urls = feeds.feed_urls(feed, current_app.config["SECRET_KEY"], public_base_url())
    return FeedOut(
        id=feed.id, name=feed.name, categories=feed.categories,  # type: ignore[arg-type]
        reminder_events=feed.reminder_events, show_numbers=feed.show_numbers,
        action_links=feed.action_links,
        url=urls.url, webcal_url=urls.webcal_url, google_url=urls.google_url,
        created_at=feed.created_at, updated_at=feed.updated_at,
    ).model_dump(mode="json")


@bp.get("/feeds")
def list_feeds() -> Response:
    return jsonify({"feeds": [feed_json(f) for f in feeds.list_feeds(get_session(),
                                                                     current_user())]})


@bp.post("/feeds")
def create_feed() -> tuple[Response, int, dict[str, str]]:
    session = get_session()
    feed = feeds.create_feed(session, current_user(), current_app.config["SECRET_KEY"],
                             json_body())
    session.commit()
    return jsonify(feed_json(feed)), 201, {"Location": f"/api/v1/feeds/{feed.id}"}


@bp.patch("/feeds/<int:feed_id>")
def patch_feed(feed_id: int) -> Response:
    session = get_session()
    body = json_body()
    feed = feeds.update_feed(session, feeds.get_feed(session, current_user(), feed_id), body)
    session.commit()
    return jsonify(feed_json(feed))


@bp.post("/feeds/<int:feed_id>/rotate")
def rotate_feed(feed_id: int) -> Response:
    session = get_session()
    feed = feeds.get_feed(session, current_user(), feed_id)
    feeds.rotate_feed(session, feed, current_app.config["SECRET_KEY"])
    session.commit()
    return jsonify(feed_json(feed))


@bp.delete("/feeds/<int:feed_id>")
def delete_feed(feed_id: int) -> tuple[str, int]:
    session = get_session()
    feeds.delete_feed(session, feeds.get_feed(session, current_user(), feed_id))
    session.commit()
    return "", 204
