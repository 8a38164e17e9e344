"""A feed's calendar, from the database to the bytes a calendar app receives: ``key`` (what
the bytes depend on, and the cache key), ``views``, ``events`` and ``ics`` (the pure
serialiser), ``source`` (the queries), ``build``, ``store`` (the kept calendars and the probe)
and ``serve`` (the HTTP answer, which the route and the WSGI fast path both give).
"""
