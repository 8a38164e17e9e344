"""A feed's calendar, from the database to the bytes a calendar app receives: what the bytes
depend on (``key``), the pure serialiser (``views``, ``events``, ``ics``), the queries
(``source``), the build, the kept calendars (``store``) and the HTTP answer (``serve``)."""
