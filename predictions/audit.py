"""The audit trail: one AuditRecord per API request, written off the request path.

A request only builds the record and puts it on a bounded in-process queue; a
background thread per worker process writes what has queued up with one
``bulk_create`` every AUDIT_FLUSH_SECONDS (100 ms by default). The queue is
written out when the worker exits (gunicorn's ``worker_exit`` hook and
``atexit``), so a graceful stop or restart loses nothing.

Loss window: a worker killed with SIGKILL (or the OOM killer) loses the records
still queued, i.e. at most about AUDIT_FLUSH_SECONDS of that worker's requests
(plus any backlog while the database is unreachable). Set AUDIT_SYNC=1 to write
every record before the response is sent instead, at the cost of a database
insert on each request.

A full queue does not drop records: the request that finds it full writes its own
record synchronously, which slows callers down instead of losing the trail.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections

from predictions.callers import ANONYMOUS, Caller
from predictions.models import AuditRecord
from predictions.tfserving.models import ModelRef

log = logging.getLogger(__name__)

_BULK_BATCH_SIZE = 500
_RETRY_SECONDS = 1.0


@dataclass
class AuditEntry:
    """An audit record being filled in while a request is handled.

    The middleware creates it; views and services add the model, signature and
    gRPC outcome; the middleware completes it with the status, size and latency.
    """

    created_at: datetime
    started: float  # time.perf_counter() at the start of the request
    request_id: str
    http_method: str
    path: str
    request_bytes: int
    caller: Caller = ANONYMOUS
    method: str = ""
    model_name: str = ""
    model_version: int | None = None
    version_label: str = ""
    signature_name: str = ""
    grpc_code: str = ""
    error_code: str = ""
    upstream_seconds: float = 0.0  # time spent in model server calls (for metrics)

    def note_model(self, method: str, ref: ModelRef) -> None:
        self.method = method
        self.model_name = ref.name
        self.model_version = ref.version
        self.version_label = ref.label or ""

    def to_record(self, http_status: int, response_bytes: int) -> AuditRecord:
        return AuditRecord(
            created_at=self.created_at,
            request_id=self.request_id,
            user_id=self.caller.user_id,
            api_key_id=self.caller.api_key_id,
            caller=self.caller.username[:150],
            method=self.method,
            http_method=self.http_method[:8],
            path=self.path[:255],
            model_name=self.model_name[:200],
            model_version=self.model_version,
            version_label=self.version_label[:100],
            signature_name=self.signature_name[:200],
            http_status=http_status,
            error_code=self.error_code[:50],
            grpc_code=self.grpc_code,
            latency_ms=(time.perf_counter() - self.started) * 1000.0,
            request_bytes=self.request_bytes,
            response_bytes=response_bytes,
        )


def _write(records: list[AuditRecord]) -> None:
    AuditRecord.objects.bulk_create(records, batch_size=_BULK_BATCH_SIZE)


class AuditWriter:
    """Queues records and writes them in batches from a background thread.

    ``background=False`` never starts the thread: records wait for ``flush()``.
    """

    def __init__(self, *, queue_size: int, flush_seconds: float, background: bool = True) -> None:
        self.queue_size = queue_size
        self.flush_seconds = flush_seconds
        self.background = background
        self._lock = threading.Lock()
        self._queue: queue.Queue[AuditRecord] = queue.Queue(maxsize=queue_size)
        self._pending: list[AuditRecord] = []  # taken off the queue, not yet written
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def submit(self, record: AuditRecord) -> None:
        self._ensure_process()
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            log.warning("Audit queue full: writing a record synchronously")
            _write([record])

    def flush(self) -> int:
        """Write everything queued now, in the calling thread; returns the number written."""
        with self._lock:
            return self._write_pending()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and write what is left (worker exit)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)
        try:
            self.flush()
        except DatabaseError:
            log.exception("Audit records lost at exit: %d", len(self._pending))

    def _ensure_process(self) -> None:
        # After fork() the parent's thread does not exist in the child: start afresh.
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._queue = queue.Queue(maxsize=self.queue_size)
                    self._pending = []
                    self._stop = threading.Event()
                    self._thread = None
                    self._pid = os.getpid()
        if self.background and self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="audit-writer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.flush_seconds):
                try:
                    with self._lock:
                        close_old_connections()
                        self._write_pending()
                except DatabaseError:
                    log.exception(
                        "Audit write failed; %d records kept for retry", len(self._pending)
                    )
                    self._stop.wait(_RETRY_SECONDS)
        finally:
            connections.close_all()

    def _write_pending(self) -> int:
        while True:
            try:
                self._pending.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if not self._pending:
            return 0
        overflow = len(self._pending) - self.queue_size
        if overflow > 0:  # the database has been down for a long time
            log.error("Audit backlog over %d records: dropping %d", self.queue_size, overflow)
            del self._pending[:overflow]
        batch = self._pending
        _write(batch)
        self._pending = []
        return len(batch)


_writer: AuditWriter | None = None
_writer_lock = threading.Lock()


def writer() -> AuditWriter:
    global _writer
    if _writer is None:
        with _writer_lock:
            if _writer is None:
                _writer = AuditWriter(
                    queue_size=settings.AUDIT_QUEUE_SIZE, flush_seconds=settings.AUDIT_FLUSH_SECONDS
                )
    return _writer


def set_writer(new: AuditWriter | None) -> AuditWriter | None:
    """Replace this process's writer (tests); returns the previous one."""
    global _writer
    with _writer_lock:
        previous, _writer = _writer, new
    return previous


def record(entry: AuditEntry, http_status: int, response_bytes: int) -> None:
    audit_record = entry.to_record(http_status, response_bytes)
    if settings.AUDIT_SYNC:
        _write([audit_record])
    else:
        writer().submit(audit_record)


def flush() -> int:
    """Write every queued record now (tests, shutdown)."""
    return writer().flush() if _writer is not None else 0


def shutdown() -> None:
    if _writer is not None:
        _writer.stop()


atexit.register(shutdown)


def entry_for(request: object) -> AuditEntry | None:
    """The audit entry AuditMiddleware attached to ``request`` (None outside /v1/)."""
    return getattr(request, "audit", None)
