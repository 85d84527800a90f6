"""The production web server configuration (gunicorn reads it with `-c gunicorn.conf.py`; `make run`
and the ingest benchmark use it). Every value can be set from the environment.

Threaded workers (gthread), few processes: concurrent one-event ingest requests in one process
share a database commit (audit/services/group_commit.py), and keep-alive connections from
gateways are reused instead of one TCP connection per request (sync workers close each one).
Large batches run in parallel threads: most of their time is in PostgreSQL, not under the GIL.
"""

import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", str((os.cpu_count() or 1) + 1)))
threads = int(os.environ.get("WEB_THREADS", "8"))
keepalive = int(os.environ.get("WEB_KEEPALIVE_SECONDS", "15"))
timeout = int(os.environ.get("WEB_TIMEOUT_SECONDS", "120"))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT_SECONDS", "5"))
# A worker restarts after this many requests (with jitter) to bound slow memory growth; 0 = never.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
