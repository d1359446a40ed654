"""Server-side batching with TF Serving's semantics (its SharedBatchScheduler + BatchingSession).

Each servable and set of fed and fetched tensors (TF Serving's TensorSignature) has a
queue of batches; the newest batch is open and takes tasks until adding one would
exceed max_batch_size. A batch is processed by one of num_batch_threads workers once
it is closed (full, or the next task did not fit) or its oldest task has waited
batch_timeout_micros. With a timeout of 0 a batch goes as soon as a worker is free, so
batches grow exactly while all workers are busy. Inputs are concatenated along dimension
0, padded to the next allowed_batch_sizes entry by repeating the first row, run once, and
split back.

One deliberate difference: TF Serving fails a whole batch when its tasks' inputs
have different trailing shapes; here such a task starts a batch of its own.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

import grpc
import numpy as np

from modelserver import errors, tracing
from tfserving.batching_parameters import BatchingParameters

log = logging.getLogger(__name__)

RunBatch = Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]]


def batch_size_of(inputs: Mapping[str, np.ndarray]) -> int:
    """The shared 0th dimension of a task's inputs (TF Serving's ComputeTensorBatchSize)."""
    if not inputs:
        raise errors.no_batch_inputs()
    sizes = set()
    for array in inputs.values():
        if array.ndim == 0:
            raise errors.scalar_batch_input()
        sizes.add(array.shape[0])
    if len(sizes) != 1:
        raise errors.unequal_batch_sizes()
    return sizes.pop()


def _merge_key(inputs: Mapping[str, np.ndarray]) -> tuple:
    return tuple(sorted((name, a.dtype.str, a.shape[1:]) for name, a in inputs.items()))


def _held_lock() -> threading.Lock:
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass(eq=False)
class _Task:
    inputs: Mapping[str, np.ndarray]
    size: int
    merge_key: tuple
    # Released by the worker when the batch ran: a one-shot signal that is cheaper than
    # threading.Event (no Condition per task), which shows at thousands of calls a second.
    done: threading.Lock = field(default_factory=_held_lock)
    outputs: Mapping[str, np.ndarray] | None = None
    error: Exception | None = None
    trace_context: object = None  # the call's, for the batch's span (None: not tracing)


@dataclass(eq=False)
class _Batch:
    merge_key: tuple
    tasks: list[_Task] = field(default_factory=list)
    size: int = 0
    opened_at: float = 0.0
    closed: bool = False


@dataclass(eq=False)
class _Queue:
    key: Hashable
    label: str
    run_batch: RunBatch
    batches: collections.deque[_Batch] = field(default_factory=collections.deque)
    retired: bool = False

    @property
    def open_batch(self) -> _Batch | None:
        return self.batches[-1] if self.batches and not self.batches[-1].closed else None


@dataclass(frozen=True)
class BatchStats:
    """How many tasks each processed batch merged, and its size before padding."""

    tasks_per_batch: Mapping[int, int]
    size_per_batch: Mapping[int, int]


class BatchScheduler:
    def __init__(self, parameters: BatchingParameters) -> None:
        self.parameters = parameters
        self._timeout = parameters.batch_timeout_micros / 1e6
        self._cond = threading.Condition()
        self._queues: dict[Hashable, _Queue] = {}
        self._next_queue = 0
        self._stopping = False
        self._tasks_per_batch: collections.Counter[int] = collections.Counter()
        self._size_per_batch: collections.Counter[int] = collections.Counter()
        self._workers = [
            threading.Thread(
                target=self._work, name=f"{parameters.thread_pool_name}-{i}", daemon=True
            )
            for i in range(parameters.num_batch_threads)
        ]
        for worker in self._workers:
            worker.start()

    def run(
        self,
        key: Hashable,
        inputs: Mapping[str, np.ndarray],
        run_batch: RunBatch,
        label: str = "",
    ) -> Mapping[str, np.ndarray]:
        """Queue one request's inputs under ``key``; block until its batch ran; return its
        slice of the outputs. ``run_batch`` runs a merged batch (the same for a given key);
        ``label`` names the queue in logs."""
        size = batch_size_of(inputs)
        if size > self.parameters.max_batch_size:
            raise errors.task_larger_than_batch(size, self.parameters.max_batch_size)
        task = _Task(inputs=inputs, size=size, merge_key=_merge_key(inputs))
        task.trace_context = tracing.current_context()
        with self._cond:
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = _Queue(key=key, label=label, run_batch=run_batch)
            self._enqueue(queue, task)
            self._cond.notify()
        task.done.acquire()
        if task.error is not None:
            raise task.error
        assert task.outputs is not None
        return task.outputs

    def _enqueue(self, queue: _Queue, task: _Task) -> None:
        batch = queue.open_batch
        fits = (
            batch is not None
            and batch.merge_key == task.merge_key
            and batch.size + task.size <= self.parameters.max_batch_size
        )
        if not fits:
            if len(queue.batches) >= self.parameters.max_enqueued_batches:
                raise errors.batch_queue_full(
                    len(queue.batches), self.parameters.max_enqueued_batches
                )
            if batch is not None:
                batch.closed = True
            batch = _Batch(merge_key=task.merge_key, opened_at=time.monotonic())
            queue.batches.append(batch)
        batch.tasks.append(task)
        batch.size += task.size
        if batch.size >= self.parameters.max_batch_size:
            batch.closed = True

    def retire(self, predicate: Callable[[Hashable], bool]) -> None:
        """Forget the queues of matching keys (their servable was unloaded) once they are
        empty; tasks already queued, or from calls that resolved the servable just before,
        still run."""
        with self._cond:
            for key, queue in list(self._queues.items()):
                if predicate(key):
                    queue.retired = True
                    if not queue.batches:
                        del self._queues[key]

    def stats(self) -> BatchStats:
        with self._cond:
            return BatchStats(dict(self._tasks_per_batch), dict(self._size_per_batch))

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for worker in self._workers:
            worker.join(timeout=5)

    # ---- workers -----------------------------------------------------------------------

    def _take_batch(self) -> tuple[_Queue, _Batch] | None:
        """A ready batch, taking queues round-robin, or None; caller holds the lock."""
        queues = list(self._queues.values())
        now = time.monotonic()
        for offset in range(len(queues)):
            queue = queues[(self._next_queue + offset) % len(queues)]
            if not queue.batches:
                continue
            head = queue.batches[0]
            if head.closed or self._stopping or now >= head.opened_at + self._timeout:
                queue.batches.popleft()
                if queue.retired and not queue.batches:
                    self._queues.pop(queue.key, None)
                self._next_queue = (self._next_queue + offset + 1) % max(1, len(queues))
                return queue, head
        return None

    def _wait_time(self) -> float | None:
        opened = [q.batches[0].opened_at for q in self._queues.values() if q.batches]
        if not opened:
            return None
        return max(0.0, min(opened) + self._timeout - time.monotonic())

    def _work(self) -> None:
        while True:
            with self._cond:
                taken = self._take_batch()
                while taken is None:
                    if self._stopping:
                        return
                    self._cond.wait(self._wait_time())
                    taken = self._take_batch()
            queue, batch = taken
            self._process(queue, batch)

    def _process(self, queue: _Queue, batch: _Batch) -> None:
        padded = self.parameters.padded_size(batch.size)
        try:
            merged = _merge([task.inputs for task in batch.tasks], padded - batch.size)
            contexts = [task.trace_context for task in batch.tasks]
            with tracing.batch_span(contexts, queue.label, batch.size, padded):
                outputs = queue.run_batch(merged)
            _split(outputs, batch.tasks, padded)
        except Exception as error:  # every task of the batch gets the batch's error
            failure = errors.from_exception(error)
            for task in batch.tasks:
                task.error = failure
        with self._cond:
            self._tasks_per_batch[len(batch.tasks)] += 1
            self._size_per_batch[batch.size] += 1
        log.debug(
            "processed batch for %s: %d tasks, size %d padded to %d",
            queue.label,
            len(batch.tasks),
            batch.size,
            padded,
        )
        for task in batch.tasks:
            task.done.release()


def _merge(inputs: list[Mapping[str, np.ndarray]], padding: int) -> dict[str, np.ndarray]:
    merged = {}
    for name in inputs[0]:
        parts = [task_inputs[name] for task_inputs in inputs]
        if padding:
            parts.append(np.repeat(parts[0][:1], padding, axis=0))
        merged[name] = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
    return merged


def _split(outputs: Mapping[str, np.ndarray], tasks: list[_Task], padded: int) -> None:
    for name, array in outputs.items():
        if array.ndim == 0 or array.shape[0] != padded:
            raise errors.ServingError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"Batched output tensor {name} has 0th dimension "
                f"{array.shape[0] if array.ndim else 'none'}, expected {padded}: "
                "the signature cannot be batched",
            )
    start = 0
    for task in tasks:
        end = start + task.size
        task.outputs = {name: array[start:end] for name, array in outputs.items()}
        start = end
