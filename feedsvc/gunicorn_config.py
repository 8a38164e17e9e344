"""Production settings for gunicorn: ``gunicorn -c python:feedsvc.gunicorn_config``.

Alone, that command serves ``feedsvc:create_app()`` (from an installed wheel, no checkout
needed); given an app (``gunicorn wsgi:app``), it serves that one with these settings. The
repository's ``gunicorn.conf.py`` reuses this module, so a plain ``gunicorn wsgi:app``
started in the checkout gets them too.

Every value can be changed from the environment: FEEDSVC_BIND, WEB_CONCURRENCY,
FEEDSVC_WORKER_CLASS, FEEDSVC_THREADS, FEEDSVC_TIMEOUT, FEEDSVC_GRACEFUL_TIMEOUT,
FEEDSVC_MAX_REQUESTS, FEEDSVC_ACCESS_LOG.

Sync workers (the default) suit a buffering reverse proxy in front, which absorbs slow
clients and keeps connections alive; without one, use FEEDSVC_WORKER_CLASS=gthread.
``kill -HUP`` the master to restart the workers gracefully (new code, no dropped request).
"""

import os
from typing import Any

from feedsvc.accesslog import MaskedLogger

# The app served when the command line names none.
wsgi_app = "feedsvc:create_app()"
bind = os.environ.get("FEEDSVC_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("FEEDSVC_WORKER_CLASS", "sync")
threads = int(os.environ.get("FEEDSVC_THREADS", "1"))
timeout = int(os.environ.get("FEEDSVC_TIMEOUT", "30"))
# Time a worker gets to finish its requests on a restart or shutdown.
graceful_timeout = int(os.environ.get("FEEDSVC_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# Each worker builds its own app, so each has its own database pool (no sockets shared
# across fork).
preload_app = False
# Workers' heartbeat files on tmpfs: a slow or full disk must not make them look hung.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"
# Recycle workers now and then so a slow leak can never grow without bound; 0 never does
# (the benchmark's soak, which shows one worker's memory staying flat).
max_requests = int(os.environ.get("FEEDSVC_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
# Whom to believe about the client's address and scheme is the app's decision, in one
# place (FEEDSVC_FORWARDED_ALLOW_IPS, feedsvc/proxy.py): gunicorn believes nobody, so the
# two can never disagree.
forwarded_allow_ips = ""
accesslog = os.environ.get("FEEDSVC_ACCESS_LOG", "-")
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'


class AccessLogger(MaskedLogger):
    """The masked access log (feed and API tokens never logged), without health probes.

    A proxy or orchestrator probes /healthz every few seconds; only failed probes are logged.
    """

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        if environ.get("PATH_INFO") == "/healthz" and str(resp.status).startswith("200"):
            return
        super().access(resp, req, environ, request_time)


logger_class = AccessLogger
