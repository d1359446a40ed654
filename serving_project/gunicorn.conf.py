"""gunicorn settings: gunicorn -c serving_project/gunicorn.conf.py serving_project.wsgi

Threaded workers (gthread): a request spends most of its time waiting for the
model server over gRPC, which releases the GIL, so a few threads per process
serve concurrent calls without the memory of more processes. Each worker opens
its own gRPC channel lazily on its first call (never in the master or in
post_fork: a gRPC channel must not cross fork()).
"""

from __future__ import annotations

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


bind = os.environ.get("GATEWAY_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = _int("GUNICORN_WORKERS", min(multiprocessing.cpu_count(), 4))
threads = _int("GUNICORN_THREADS", 8)

# Behind a load balancer that reuses connections, keep idle ones a little longer than
# a typical client would, but not so long that threads sit on dead sockets.
keepalive = 5
# A worker that stops heartbeating this long is restarted; requests themselves are
# bounded by TFSERVING_TIMEOUT_SECONDS (the gRPC deadline).
timeout = 30
# On SIGTERM, in-flight requests get this long to finish (and the audit queue to flush).
graceful_timeout = 30
# Recycle workers now and then to bound slow leaks; jitter keeps them from
# restarting all at once.
max_requests = _int("GUNICORN_MAX_REQUESTS", 10_000)
max_requests_jitter = max(1, max_requests // 10)

# Import Django once in the master and fork it: faster worker start and shared memory
# pages. Safe because nothing opens a connection or a thread at import time.
preload_app = True

# No control socket: its default path is shared by every gunicorn of the same user
# (two instances collide) and lives under $HOME, which is read-only in the container.
control_socket_disable = True

accesslog = "-"
# Client, request line, status, response bytes, duration in ms, request id.
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def worker_exit(server: object, worker: object) -> None:
    """Write out the worker's queued audit records before it goes."""
    from predictions import audit

    audit.shutdown()
