"""Prometheus metrics of the API, recorded in one place and exposed at /metrics.

Every API request (/v1/...) is observed once, when it is answered, from its audit
entry (MetricsMiddleware): the entry already knows the model, version, method,
gRPC outcome and time spent calling the model server, so the request path pays
only for a few counter and histogram updates. Failed session logins (admin,
browsable API) come from Django's ``user_login_failed`` signal.

Under gunicorn every worker is its own process, so the figures would otherwise
depend on which worker a scrape reaches. gunicorn.conf.py points
PROMETHEUS_MULTIPROC_DIR at an empty directory before the app is loaded;
prometheus_client then keeps each process's values in memory-mapped files there
and a scrape sums them (multiprocess mode). Without it (runserver, tests) the
values live in this process's default registry.

Label values are bounded, so a client cannot create series at will: a model name
is kept only when it is in the catalogue or the model server answered for it,
and a version only when the model server answered for it.
"""

from __future__ import annotations

import os

from django.conf import settings

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
if settings.PROMETHEUS_MULTIPROC_DIR:
    # Metrics open their files there when created (below): a management command run
    # with the gateway's environment before gunicorn made the directory must not fail.
    os.makedirs(settings.PROMETHEUS_MULTIPROC_DIR, exist_ok=True)
else:
    # prometheus_client switches to multiprocess mode when the variable merely exists,
    # and would write its files into the working directory if it is empty (as an
    # env file with "PROMETHEUS_MULTIPROC_DIR=" sets it). It must go before the import.
    os.environ.pop(MULTIPROCESS_DIR_VARIABLE, None)

import grpc  # noqa: E402
from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector  # noqa: E402

from predictions.audit.entry import AuditEntry  # noqa: E402
from predictions.inference.catalogue import catalogue_model_names  # noqa: E402

OTHER_MODEL = "other"  # any model name the model server has not vouched for
_OK = grpc.StatusCode.OK.name
_UNAUTHORIZED = 401

# From a cached signature answer (~1 ms) to the default gRPC deadline (10 s) and beyond.
_SECONDS_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)

REQUESTS = Counter(
    "gateway_requests",
    "API requests answered, by model, model version, API method and HTTP status.",
    ["model", "version", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "gateway_request_duration_seconds",
    "Time from receiving an API request to its response, in seconds.",
    ["model", "method"],
    buckets=_SECONDS_BUCKETS,
)
UPSTREAM_SECONDS = Histogram(
    "gateway_upstream_duration_seconds",
    "Time an API request spent in gRPC calls to the model server (retries and "
    "signature lookups included), in seconds.",
    ["model", "method"],
    buckets=_SECONDS_BUCKETS,
)
UPSTREAM_ERRORS = Counter(
    "gateway_upstream_errors",
    "API requests whose model server call failed, by gRPC status code.",
    ["model", "method", "code"],
)
IN_FLIGHT = Gauge(
    "gateway_requests_in_flight",
    "API requests being handled now.",
    multiprocess_mode="livesum",  # live workers only: a dead worker's requests are not in flight
)
AUTH_FAILURES = Counter(
    "gateway_auth_failures",
    "Refused credentials: API requests answered 401 (bad, expired or missing token or "
    "API key; wrong password on the token endpoint) and failed session logins.",
    ["reason"],
)

PAYLOAD_RECORDS_WRITTEN = Counter(
    "gateway_payload_log_written",
    "Logged exchanges written, by payload sink (database, file, cloudevents).",
    ["sink"],
)
PAYLOAD_RECORDS_DROPPED = Counter(
    "gateway_payload_log_dropped",
    "Logged exchanges a payload sink dropped: queue_full (the sink is slower than the "
    "traffic), failed (writes failed after retries), not_configured (no such sink here).",
    ["sink", "reason"],
)
SHADOW_REQUESTS = Counter(
    "gateway_shadow_requests",
    "Shadow copies of requests, by model and outcome: same or differs (the copy's answer "
    "against the client's), error, dropped (the worker's shadow queue was full).",
    ["model", "outcome"],
)
MODEL_SERVER_CALLS_IN_FLIGHT = Gauge(
    "gateway_model_server_calls_in_flight",
    "Model server calls (and signature lookups waiting on one) holding a slot of the "
    "per-worker bound MODEL_SERVER_CONCURRENCY now.",
    multiprocess_mode="livesum",
)
MODEL_SERVER_CALLS_REFUSED = Counter(
    "gateway_model_server_calls_refused",
    "Model server calls refused with 503 (code overloaded) because the slots were taken: "
    "scope model (MODEL_SERVER_CONCURRENCY_PER_MODEL) or worker (MODEL_SERVER_CONCURRENCY).",
    ["model", "scope"],
)

REQUEST_BODIES_REFUSED = Counter(
    "gateway_request_bodies_refused",
    "Requests refused with 503 (code overloaded) because their body did not fit the "
    "worker's MAX_BODY_BYTES_IN_FLIGHT.",
)

AUDIT_RECORDS_WRITTEN = Counter(
    "gateway_audit_records_written",
    "Audit records written to the database.",
)
AUDIT_RECORDS_DROPPED = Counter(
    "gateway_audit_records_dropped",
    "Audit records not written: refused (the database refused that record; the rest of "
    "its batch was written), backlog (the database was unreachable for longer than the "
    "queue holds), exit (a worker stopped while the database was unreachable).",
    ["reason"],
)
AUDIT_WRITE_FAILURES = Counter(
    "gateway_audit_write_failures",
    "Audit write passes that failed with the database unavailable (records kept for retry).",
)
AUDIT_WRITER_RESTARTS = Counter(
    "gateway_audit_writer_restarts",
    "Audit writer threads found dead and started again.",
)
AUDIT_PENDING = Gauge(
    "gateway_audit_pending_records",
    "Audit records queued and not yet written (live workers).",
    multiprocess_mode="livesum",
)
AUDIT_SECONDS_SINCE_PROGRESS = Gauge(
    "gateway_audit_seconds_since_progress",
    "Seconds since a worker's audit writer last completed a write pass while records "
    "were pending (0: nothing pending); over 10 s /readyz reports the writer stuck.",
    multiprocess_mode="livemax",
)

LOGIN_FAILED = "login_failed"


def request_started() -> None:
    IN_FLIGHT.inc()


def request_finished(entry: AuditEntry | None, http_status: int, seconds: float) -> None:
    """Count an answered API request; ``entry`` is its audit entry (None if it had none)."""
    IN_FLIGHT.dec()
    if entry is None:
        return
    model = _model_label(entry)
    answered = entry.grpc_code == _OK and entry.model_version is not None
    version = str(entry.model_version) if answered else ""
    REQUESTS.labels(model, version, entry.method, str(http_status)).inc()
    REQUEST_SECONDS.labels(model, entry.method).observe(seconds)
    if entry.upstream_seconds:
        UPSTREAM_SECONDS.labels(model, entry.method).observe(entry.upstream_seconds)
    if entry.grpc_code and entry.grpc_code != _OK:
        UPSTREAM_ERRORS.labels(model, entry.method, entry.grpc_code).inc()
    if http_status == _UNAUTHORIZED:
        AUTH_FAILURES.labels(entry.error_code or "unknown").inc()


def payload_records_written(sink: str, count: int) -> None:
    PAYLOAD_RECORDS_WRITTEN.labels(sink).inc(count)


def payload_records_dropped(sink: str, reason: str, count: int = 1) -> None:
    PAYLOAD_RECORDS_DROPPED.labels(sink, reason).inc(count)


def login_failed() -> None:
    AUTH_FAILURES.labels(LOGIN_FAILED).inc()


def shadow_finished(model: str, outcome: str) -> None:
    SHADOW_REQUESTS.labels(model, outcome).inc()


def model_server_call_started() -> None:
    MODEL_SERVER_CALLS_IN_FLIGHT.inc()


def model_server_call_finished() -> None:
    MODEL_SERVER_CALLS_IN_FLIGHT.dec()


def model_server_call_refused(model: str | None, scope: str) -> None:
    """``model`` None: a call for no model (a config reload)."""
    known = model is None or model in catalogue_model_names()
    MODEL_SERVER_CALLS_REFUSED.labels((model or "") if known else OTHER_MODEL, scope).inc()


def request_body_refused() -> None:
    REQUEST_BODIES_REFUSED.inc()


def audit_records_written(count: int) -> None:
    if count:
        AUDIT_RECORDS_WRITTEN.inc(count)


def audit_records_dropped(reason: str, count: int = 1) -> None:
    if count:
        AUDIT_RECORDS_DROPPED.labels(reason).inc(count)


def audit_write_failed() -> None:
    AUDIT_WRITE_FAILURES.inc()


def audit_writer_restarted() -> None:
    AUDIT_WRITER_RESTARTS.inc()


def audit_writer_observed(pending: int, seconds_since_progress: float) -> None:
    AUDIT_PENDING.set(pending)
    AUDIT_SECONDS_SINCE_PROGRESS.set(seconds_since_progress)


def exposition() -> tuple[bytes, str]:
    """The Prometheus text format of every metric (summed over workers) and its content type."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _model_label(entry: AuditEntry) -> str:
    if not entry.model_name:
        return ""
    if entry.grpc_code == _OK or entry.model_name in catalogue_model_names():
        return entry.model_name
    return OTHER_MODEL
