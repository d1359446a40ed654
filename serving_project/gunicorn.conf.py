"""gunicorn settings: gunicorn -c serving_project/gunicorn.conf.py serving_project.wsgi

Threaded workers (gthread): a request spends most of its time waiting for the
model server over gRPC, which releases the GIL, so a few threads per process
serve concurrent calls without the memory of more processes. Each worker opens
its own gRPC channel lazily on its first call (never in the master or in
post_fork: a gRPC channel must not cross fork()).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

from serving_project.environment import Environment

env = Environment()


# --- Prometheus metrics across workers ------------------------------------------------
# Each worker keeps its metric values in memory-mapped files in this directory and
# /metrics sums them (prometheus_client's multiprocess mode; see predictions/metrics.py).
# It must be set before the app (and prometheus_client) is imported, and start empty:
# files left by an earlier run would be added in. Default: a new temporary directory,
# removed when gunicorn exits. The config file is read again on SIGHUP; the directory
# is only emptied on the first read, or the live workers' counts would vanish.
# Markers for this master's own later reads of the file, not settings.
_METRICS_DIR_PREPARED_BY = "GATEWAY_METRICS_DIR_PREPARED_BY"
_METRICS_DIR_TEMPORARY = "GATEWAY_METRICS_DIR_TEMPORARY"


def _prepare_metrics_directory() -> None:
    if env.str(_METRICS_DIR_PREPARED_BY, "") == str(os.getpid()):
        return
    path = env.str("PROMETHEUS_MULTIPROC_DIR", "")
    if path:
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gateway-metrics-")
        os.environ[_METRICS_DIR_TEMPORARY] = "1"
    os.environ[_METRICS_DIR_PREPARED_BY] = str(os.getpid())


_prepare_metrics_directory()

bind = env.gateway_bind
worker_class = "gthread"
workers = env.int("GUNICORN_WORKERS", min(multiprocessing.cpu_count(), 4), minimum=1)
threads = env.gunicorn_threads

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
max_requests = env.int("GUNICORN_MAX_REQUESTS", 10_000)
max_requests_jitter = max(1, max_requests // 10)

# Import Django once in the master and fork it: faster worker start and shared memory
# pages. Safe because nothing opens a connection or a thread at import time.
preload_app = True

# No control socket: its default path is shared by every gunicorn of the same user
# (two instances collide) and lives under $HOME, which is read-only in the container.
control_socket_disable = True

accesslog = "-"
# gunicorn's logger with each access line's fields computed only when the format reads
# them (serving_project/access_log.py): the same lines, 6 us of CPU each instead of 38.
logger_class = "serving_project.access_log.AccessLogger"
# Client, request line, status, response bytes, duration in ms, the gateway's request id
# and the client's own ("-" if it sent none).
access_log_format = (
    '%(h)s "%(r)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s crid=%({x-client-request-id}o)s'
)
errorlog = "-"
loglevel = env.log_level.lower()

# gunicorn's own lines (start-up, worker events, the access log) in the same format as
# the application's: one JSON object per line in production (LOG_FORMAT, as settings.py).
if env.log_format == "json":
    logconfig_dict = {
        "formatters": {"json": {"()": "serving_project.log_format.JsonFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            },
            "error_console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "propagate": False},
        },
    }


def pre_fork(server: object, worker: object) -> None:
    """Move everything the master has loaded (Django, DRF, the URLconf, protobufs) out of
    the cyclic garbage collector's sight before a worker is forked: the worker's
    collections then never walk those objects (cheaper collections, and their pages
    stay shared with the master instead of being copied when a collection touches
    them). Objects the worker creates are collected as before."""
    gc.freeze()


def post_worker_init(worker: object) -> None:
    """Start the worker's reconciler (in the worker: it opens gRPC channels and a database
    connection, which must not cross fork()). It seeds the deployment tables on first
    start and keeps the model servers in step with them (RECONCILE_SECONDS)."""
    from predictions.deployments import reconciler

    reconciler.start()


def post_request(worker: object, req: object, environ: dict, resp: object) -> None:
    """Return the memory a large request freed (serving_project/memory.py)."""
    from serving_project import memory

    memory.after_request(environ, resp)


def worker_exit(server: object, worker: object) -> None:
    """Write out the worker's queued audit records before it goes."""
    from predictions.audit import writer

    writer.shutdown()


def child_exit(server: object, worker: object) -> None:
    """In the master, after a worker died (however): drop its live gauges (in-flight).

    Its counters and histograms stay in the directory and keep counting in the sums.
    """
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: object) -> None:
    if env.str(_METRICS_DIR_TEMPORARY, ""):
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
