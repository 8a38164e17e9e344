"""Production settings for ``gunicorn wsgi:app`` started in this folder.

Every value can be changed from the environment: FEEDSVC_BIND, WEB_CONCURRENCY,
FEEDSVC_WORKER_CLASS, FEEDSVC_THREADS, FEEDSVC_TIMEOUT, FEEDSVC_FORWARDED_ALLOW_IPS.
"""

import os

bind = os.environ.get("FEEDSVC_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("FEEDSVC_WORKER_CLASS", "sync")
threads = int(os.environ.get("FEEDSVC_THREADS", "1"))
timeout = int(os.environ.get("FEEDSVC_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak can never grow without bound.
max_requests = 20000
max_requests_jitter = 2000
# Trust X-Forwarded-* only from the reverse proxy in front of us.
forwarded_allow_ips = os.environ.get("FEEDSVC_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = os.environ.get("FEEDSVC_ACCESS_LOG", "-")
errorlog = "-"
logger_class = "feedsvc.accesslog.MaskedLogger"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s"'
