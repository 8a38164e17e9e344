"""A feed's calendar, from the database to the bytes a calendar app receives.

- ``key``: everything a feed's bytes depend on, and the one cache key derived from it;
- ``views``, ``events``, ``ics``: the pure serialiser: the plain values a calendar is made
  from, an item's events in the feed's language, and the calendar's bytes;
- ``source``: the queries that read a feed, its owner and the items it shows;
- ``build``: a calendar built from them, reusing the events of unchanged items, and kept;
- ``store``: where built calendars are kept, and the one query that tells whether one is current;
- ``serve``: the HTTP answer, which the route and the WSGI fast path both give.
"""
