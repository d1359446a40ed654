"""The audit writer: records are written off the request path, in batches.

A request only builds the record and puts it on a bounded in-process queue; a
background thread per worker process writes what has queued up with one
multi-row INSERT every AUDIT_FLUSH_SECONDS (100 ms by default;
rows.py says why not ``bulk_create``). The queue is
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

from django.conf import settings
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    close_old_connections,
    connections,
    transaction,
)

from predictions.audit import rows as audit_rows
from predictions.audit.entry import AuditEntry
from predictions.audit.rows import Row
from predictions.operations import metrics

log = logging.getLogger(__name__)

_RETRY_SECONDS = 1.0
# A writer that has not completed a write pass for this long is reported stuck
# (readiness fails): the database is unreachable or the thread hangs.
STUCK_SECONDS = 10.0

# The database cannot take any record now (unreachable, locked, table missing): the
# batch is kept and retried. Any other error is about the records themselves.
_UNAVAILABLE = (OperationalError, InterfaceError, ProgrammingError)


class DatabaseUnavailable(Exception):
    """No record could be written; the ones not yet written stay queued."""


def write_records(records: list[Row]) -> tuple[int, int]:
    """Write ``records`` (rows.py); returns (written, refused).

    One transaction for the batch; if the database refuses it for a reason that is not
    its own unavailability, every record is written on its own and only the ones it
    still refuses are set aside (logged and counted as dropped, reason "refused"), so
    one bad record never loses the others. Raises DatabaseUnavailable (records that
    were written are removed from ``records``, the rest stay).
    """
    if not records:
        return 0, 0
    try:
        with transaction.atomic():
            audit_rows.insert_rows(records)
    except _UNAVAILABLE as error:
        raise DatabaseUnavailable(f"{type(error).__name__}: {error}") from error
    except Exception:
        pass  # some record is refused: find which, one at a time
    else:
        count = len(records)
        records.clear()
        metrics.audit_records_written(count)
        return count, 0
    written = refused = 0
    while records:
        try:
            with transaction.atomic():
                audit_rows.insert_rows(records[:1])
        except _UNAVAILABLE as error:
            metrics.audit_records_written(written)
            raise DatabaseUnavailable(f"{type(error).__name__}: {error}") from error
        except Exception as error:
            refused += 1
            values = audit_rows.as_dict(records[0])
            log.error(
                "Audit record refused by the database and set aside: %s (request %r, "
                "%s %r, status %s)",
                f"{type(error).__name__}: {error}",
                values["request_id"],
                values["http_method"],
                str(values["path"])[:100],
                values["http_status"],
            )
            metrics.audit_records_dropped("refused")
        else:
            written += 1
        records.pop(0)
    metrics.audit_records_written(written)
    return written, refused


@dataclass(frozen=True)
class WriterStatus:
    """What readiness and the ops page report about this process's audit writer."""

    running: bool
    pending: int
    written: int
    refused: int
    dropped: int
    restarts: int
    seconds_since_progress: float
    last_error: str

    @property
    def stuck(self) -> bool:
        return not self.running or (
            self.pending > 0 and self.seconds_since_progress > STUCK_SECONDS
        )

    def as_dict(self) -> dict:
        return {
            "running": self.running,
            "pending": self.pending,
            "written": self.written,
            "refused": self.refused,
            "dropped": self.dropped,
            "restarts": self.restarts,
            "seconds_since_progress": round(self.seconds_since_progress, 3),
            "last_error": self.last_error,
        }


class AuditWriter:
    """Queues records and writes them in batches from a background thread.

    ``background=False`` never starts the thread: records wait for ``flush()``.
    The thread is supervised: a submit (or a readiness probe) that finds it dead
    starts a new one, counted in ``restarts``.
    """

    def __init__(self, *, queue_size: int, flush_seconds: float, background: bool = True) -> None:
        self.queue_size = queue_size
        self.flush_seconds = flush_seconds
        self.background = background
        self._lock = threading.Lock()
        self._queue: queue.Queue[Row] = queue.Queue(maxsize=queue_size)
        self._pending: list[Row] = []  # taken off the queue, not yet written
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._reset_counts()

    def _reset_counts(self) -> None:
        self.written = 0
        self.refused = 0
        self.dropped = 0
        self.restarts = 0
        self.last_error = ""
        self._last_progress = time.monotonic()

    def submit(self, record: Row) -> None:
        self.ensure_running()
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            log.warning("Audit queue full: writing a record synchronously")
            self._count(*write_records([record]))

    def flush(self) -> int:
        """Write everything queued now, in the calling thread; returns the number written.

        Raises DatabaseUnavailable if the database cannot take them (they stay queued).
        """
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
        except (DatabaseUnavailable, DatabaseError):
            log.exception("Audit records lost at exit: %d", len(self._pending))
            metrics.audit_records_dropped("exit", len(self._pending))

    def status(self) -> WriterStatus:
        thread = self._thread
        running = not self.background or (thread is not None and thread.is_alive())
        if self.background and thread is None:
            running = True  # not started yet: no request has been audited in this process
        pending = self._queue.qsize() + len(self._pending)
        since = time.monotonic() - self._last_progress
        metrics.audit_writer_observed(pending, since if pending else 0.0)
        return WriterStatus(
            running=running,
            pending=pending,
            written=self.written,
            refused=self.refused,
            dropped=self.dropped,
            restarts=self.restarts,
            seconds_since_progress=since if pending else 0.0,
            last_error=self.last_error,
        )

    def ensure_running(self) -> None:
        """Start the thread in this process, or again if it has died."""
        # After fork() the parent's thread does not exist in the child: start afresh.
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._queue = queue.Queue(maxsize=self.queue_size)
                    self._pending = []
                    self._stop = threading.Event()
                    self._thread = None
                    self._pid = os.getpid()
                    self._reset_counts()
        if not self.background or self._stop.is_set():
            return
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            if self._thread is not None:
                self.restarts += 1
                metrics.audit_writer_restarted()
                log.error("Audit writer thread had died: started again (restart %d)", self.restarts)
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.flush_seconds):
                try:
                    with self._lock:
                        close_old_connections()
                        self._write_pending()
                except Exception as error:
                    self.last_error = f"{type(error).__name__}: {error}"[:500]
                    metrics.audit_write_failed()
                    log.exception(
                        "Audit write failed; %d records kept for retry", len(self._pending)
                    )
                    self._stop.wait(_RETRY_SECONDS)
                self.status()  # keeps the pending and progress gauges current
        finally:
            connections.close_all()

    def _write_pending(self) -> int:
        while True:
            try:
                self._pending.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if not self._pending:
            self._last_progress = time.monotonic()
            return 0
        overflow = len(self._pending) - self.queue_size
        if overflow > 0:  # the database has been down for a long time
            log.error("Audit backlog over %d records: dropping %d", self.queue_size, overflow)
            del self._pending[:overflow]
            self.dropped += overflow
            metrics.audit_records_dropped("backlog", overflow)
        written, refused = write_records(self._pending)
        self._count(written, refused)
        self._last_progress = time.monotonic()
        return written

    def _count(self, written: int, refused: int) -> None:
        self.written += written
        self.refused += refused
        self.dropped += refused


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
    row = entry.to_row(http_status, response_bytes)
    if settings.AUDIT_SYNC:
        write_records([row])
    else:
        writer().submit(row)


def status() -> WriterStatus | None:
    """This process's writer, as readiness reports it (None: records are written
    synchronously, or no writer has been needed yet)."""
    if settings.AUDIT_SYNC or _writer is None:
        return None
    _writer.ensure_running()
    return _writer.status()


def flush() -> int:
    """Write every queued record now (tests, shutdown)."""
    return writer().flush() if _writer is not None else 0


def shutdown() -> None:
    if _writer is not None:
        _writer.stop()


atexit.register(shutdown)
