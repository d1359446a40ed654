"""One sink's bounded queue and the background thread that writes it, in batches.

Modelled on the audit writer (audit/writer.py), with one difference that matters: a full
queue drops the record (and counts the drop in /metrics) instead of writing it in the
request's thread. The audit trail must be complete; payload logs are a sample, and a sink
that is slow or down must never slow a request. The queue is bounded by the bytes its
records hold (PAYLOAD_QUEUE_BYTES per sink and worker), since one record can hold up to
its policy's max_bytes per payload.

A batch that fails is retried with exponential backoff (PAYLOAD_SINK_RETRIES times), then
dropped and counted; records are written when the worker exits (atexit), as audit
records are.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
from collections.abc import Sequence
from typing import Protocol

from django.db import close_old_connections, connections

from predictions.operations import metrics
from predictions.payloads.records import PayloadRecord

log = logging.getLogger(__name__)

BATCH_SIZE = 500
_FIRST_RETRY_SECONDS = 0.1
_STOP_TIMEOUT_SECONDS = 5.0


class Sink(Protocol):
    name: str

    def write(self, records: Sequence[PayloadRecord]) -> int:
        """Write the records; how many were written. Raising retries the whole batch."""


class SinkWriter:
    """Queues records for one sink and writes them from a background thread.

    ``background=False`` never starts the thread: records wait for ``flush()`` (tests).
    """

    def __init__(
        self,
        sink: Sink,
        *,
        max_bytes: int,
        flush_seconds: float,
        retries: int,
        background: bool = True,
    ) -> None:
        self.sink = sink
        self.max_bytes = max_bytes
        self.flush_seconds = flush_seconds
        self.retries = retries
        self.background = background
        self._lock = threading.Lock()  # guards the queue and its size
        self._write_lock = threading.Lock()  # one batch written at a time
        self._queue: collections.deque[PayloadRecord] = collections.deque()
        self._queued_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def submit(self, record: PayloadRecord) -> bool:
        """Queue a record; False (and a counted drop) if the queue is full. Never blocks."""
        self._ensure_process()
        size = record.size
        with self._lock:
            if self._queued_bytes + size > self.max_bytes:
                full = True
            else:
                full = False
                self._queue.append(record)
                self._queued_bytes += size
        if full:
            metrics.payload_records_dropped(self.sink.name, "queue_full")
        return not full

    def flush(self) -> int:
        """Write everything queued now, in the calling thread; the number written."""
        written = 0
        while True:
            batch = self._take(BATCH_SIZE)
            if not batch:
                return written
            written += self._write(batch)

    def stop(self, timeout: float = _STOP_TIMEOUT_SECONDS) -> None:
        """Stop the thread and write what is left (worker exit)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout)
        self.flush()

    def _ensure_process(self) -> None:
        # After fork() the parent's thread does not exist in the child: start afresh.
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._queue = collections.deque()
                    self._queued_bytes = 0
                    self._stop = threading.Event()
                    self._thread = None
                    self._pid = os.getpid()
        if self.background and self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name=f"payload-sink-{self.sink.name}", daemon=True
                    )
                    self._thread.start()

    def _take(self, count: int) -> list[PayloadRecord]:
        with self._lock:
            batch = [self._queue.popleft() for _ in range(min(count, len(self._queue)))]
            self._queued_bytes -= sum(record.size for record in batch)
        return batch

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.flush_seconds):
                while batch := self._take(BATCH_SIZE):
                    close_old_connections()  # one the database dropped is not reused
                    self._write(batch)
        finally:
            close = getattr(self.sink, "close", None)
            if close is not None:
                close()
            connections.close_all()  # this thread's own, if its sink used the database

    def _write(self, batch: list[PayloadRecord]) -> int:
        delay = _FIRST_RETRY_SECONDS
        with self._write_lock:
            for attempt in range(self.retries + 1):
                try:
                    written = self.sink.write(batch)
                except Exception as error:  # any sink failure: retry, then drop and count
                    if attempt < self.retries:
                        self._stop.wait(delay)  # at exit, retries follow at once
                        delay *= 2
                        continue
                    # Never the payloads themselves: they may hold what logs must not.
                    log.error(
                        "Payload sink %s dropped %d records: %s",
                        self.sink.name,
                        len(batch),
                        type(error).__name__,
                    )
                    written = 0
                metrics.payload_records_written(self.sink.name, written)
                if written < len(batch):
                    metrics.payload_records_dropped(self.sink.name, "failed", len(batch) - written)
                return written
        return 0
