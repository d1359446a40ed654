"""Shadow copies: some requests are also sent to another version, in the background.

The client's answer is computed and returned without waiting: a copy is a task on a
small bounded queue served by SHADOW_THREADS threads per worker. When the queue
(SHADOW_QUEUE_SIZE) is full the copy is dropped and counted
(``gateway_shadow_requests_total{outcome="dropped"}``), so a slow shadow version
can neither slow the clients down nor pile up memory. Each copy leaves an audit
record (method "shadow", the request's id, the version that answered, its status
and latency, and whether its answer differed from the client's) and a count in
``gateway_shadow_requests_total``.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from django.conf import settings
from django.db import close_old_connections

from predictions.audit import writer as audit_writer
from predictions.context import RequestContext
from predictions.operations import metrics
from tfserving.errors import UpstreamError
from tfserving.models import ModelRef
from tfserving.protos import tensor_pb2
from tfserving.tensors import array_from_tensor_proto

log = logging.getLogger(__name__)

Task = Callable[[], None]
_STOP = None  # what a thread takes off the queue when it should end


class ShadowExecutor:
    """A fixed number of threads and a bounded queue; threads start on first use (after fork)."""

    def __init__(self, threads: int, queue_size: int) -> None:
        self.thread_count = threads
        self.queue_size = queue_size
        self._lock = threading.Lock()
        self._pid = 0
        self._queue: queue.Queue[Task | None] = queue.Queue(maxsize=queue_size)

    def submit(self, task: Task) -> bool:
        """Queue ``task``; False (dropped) when the queue is full."""
        self._ensure_threads()
        try:
            self._queue.put_nowait(task)
        except queue.Full:
            return False
        return True

    def shutdown(self) -> None:
        """Let the queued copies run, then end the threads (tests, settings changes)."""
        if self._pid != os.getpid():
            return
        self._queue.join()
        for _ in range(self.thread_count):
            self._queue.put(_STOP)

    def _ensure_threads(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._queue = queue.Queue(maxsize=self.queue_size)  # a parent's queue has no threads
            for number in range(self.thread_count):
                threading.Thread(target=self._work, name=f"shadow-{number}", daemon=True).start()
            self._pid = os.getpid()

    def _work(self) -> None:
        tasks = self._queue
        while (task := tasks.get()) is not _STOP:
            try:
                task()
            except Exception:  # one bad copy must not stop the thread
                log.exception("A shadow request failed unexpectedly")
            finally:
                tasks.task_done()
                close_old_connections()
        tasks.task_done()


_executor: ShadowExecutor | None = None
_executor_lock = threading.Lock()


def executor() -> ShadowExecutor:
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ShadowExecutor(settings.SHADOW_THREADS, settings.SHADOW_QUEUE_SIZE)
    return _executor


def reset() -> None:
    """Let the copies in flight finish, then start afresh with the settings (tests)."""
    global _executor
    with _executor_lock:
        previous, _executor = _executor, None
    if previous is not None:
        previous.shutdown()


def submit(
    context: RequestContext,
    method: str,
    ref: ModelRef,
    call: Callable[[ModelRef], Any],
    primary: Any,
) -> None:
    entry = context.audit.shadow_entry(ref)

    def run() -> None:
        started = time.perf_counter()
        if entry is not None:
            entry.started = started
        try:
            answer = call(ref)
        except UpstreamError as error:
            outcome, status, differs = "error", error.status_code, None
            if entry is not None:
                entry.note_grpc_code(error.grpc_code.name)
        else:
            differs = answers_differ(primary, answer)
            outcome, status = ("differs" if differs else "same"), 200
            if entry is not None:
                entry.note_grpc_code("OK")
                entry.note_version(answer.model_spec.version.value)
        metrics.shadow_finished(ref.name, outcome)
        if entry is not None:
            entry.note_shadow_outcome(differs)
            audit_writer.record(entry, status, 0)

    if not executor().submit(run):
        metrics.shadow_finished(ref.name, "dropped")
        log.warning("Shadow queue full: dropped a copy for %s (%s)", ref.name, method)


def answers_differ(primary: Any, shadow: Any) -> bool:
    """Whether two responses of one request carry different answers (the model_spec aside).

    Predict outputs are compared as values (whichever TensorProto fields hold them),
    exactly, NaN equal to NaN; classify and regress results as messages.
    """
    if hasattr(primary, "outputs"):
        if set(primary.outputs) != set(shadow.outputs):
            return True
        return any(
            not _same_tensor(primary.outputs[alias], shadow.outputs[alias])
            for alias in primary.outputs
        )
    return primary.result != shadow.result


def _same_tensor(first: tensor_pb2.TensorProto, second: tensor_pb2.TensorProto) -> bool:
    if first.dtype != second.dtype:
        return False
    try:
        one, other = array_from_tensor_proto(first), array_from_tensor_proto(second)
    except ValueError:  # a type the gateway does not convert: compare the protos
        return first == second
    if one.shape != other.shape:
        return False
    return bool(np.array_equal(one, other, equal_nan=one.dtype.kind in "fc"))
