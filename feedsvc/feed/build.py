"""A feed's calendar built from the database, reusing the events of unchanged items, and kept.

A build happens once per change to what a feed shows. Only the items whose events' key
(``key.event_key``) is not among the kept entry's are read in full and serialised; the
others' events are copied from the kept bytes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from sqlalchemy import Connection

from feedsvc.feed import ics, key, source, store

log = logging.getLogger(__name__)


def build(connection: Connection, probe: store.Probe, inputs: key.Inputs, token_hash: str,
          kept: store.Entry | None) -> store.Entry | None:
    """The calendar as ``inputs`` say, kept unless something changed since the probe; None
    when the feed is gone. ``kept``: the probe's entry (its bytes are read here if needed)."""
    found = source.read_source(connection, token_hash)
    if found is None:
        return None
    # The events' context from the settings just read: a change since the probe must not
    # give new events under old keys.
    context = dataclasses.replace(inputs, settings=found.settings.state).context()
    order = [(item_id, key.event_key(context, item_id, version))
             for item_id, version in found.items]
    if kept is not None and kept.body_gzip is None:
        kept = store.kept(connection, token_hash, inputs.variant)
    known = {} if kept is None else kept.events()
    missing = [item_id for item_id, event_key in order if event_key not in known]
    view = source.feed_view(connection, found.settings, inputs.base_url, inputs.today, missing,
                            secret_key=inputs.secret_key, changed=found.changed)
    if inputs.variant == "google":  # lead events, as Google Calendar ignores alarms
        view = dataclasses.replace(view, reminder_events=True)
    body, parts = ics.assemble(view, order, known)
    entry = store.new_entry(inputs.key(), body, view.last_modified, parts)
    if kept is not None and entry.last_modified <= kept.last_modified:
        # Last-Modified never goes back: the newest change may have left the feed (an item
        # deleted, archived or moved out of its categories), and If-Modified-Since must not
        # hide that; other bytes move it on by a second (HTTP dates count whole seconds).
        moved = dt.timedelta(seconds=entry.etag != kept.etag)
        entry = dataclasses.replace(entry, last_modified=kept.last_modified + moved)
    # An item inserted and deleted again during the build would leave the key as it was:
    # a build that saw an item newer than the probe's newest is not kept. Any other write
    # since the probe changes every later key, so keeping the entry is harmless.
    if all(item_id <= inputs.newest_item() for item_id, _ in found.items):
        try:
            store.save(connection, probe.feed_id, inputs.variant, entry)
        except Exception:
            # The calendar is built and correct; only the next request will build it too.
            connection.rollback()
            log.warning("a built feed could not be kept", exc_info=True)
    return entry

