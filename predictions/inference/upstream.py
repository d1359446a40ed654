"""The model server as this process sees it: one PredictionClient, one SignatureCache
and the Bulkhead that bounds their calls.

All are built from settings on first use, in the process that uses them (after
gunicorn forks: the client opens its gRPC channel lazily and re-opens it when the
process id changes), and shared by every thread of the worker.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from django.conf import settings

from predictions.operations import metrics
from predictions.request_id import current_request_id
from tfserving.client import PredictionClient
from tfserving.errors import RETRY_AFTER_SECONDS, GatewayError
from tfserving.signatures import SignatureCache

# Orchestrator probes time out after a few seconds; a readiness answer must come first.
PROBE_TIMEOUT_SECONDS = 2.0

_lock = threading.Lock()
_client: PredictionClient | None = None
_signatures: SignatureCache | None = None


class Overloaded(GatewayError):
    """No room for the work within the wait: every slot for model server calls (this
    model's or the worker's) is taken, or the worker's budget for large request bodies
    (predictions/api/body_budget.py) is spent."""

    status_code = 503
    code = "overloaded"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class Bulkhead:
    """Bounds the model server calls in flight in this worker, overall and per model.

    A call that hangs holds a gunicorn thread. Fewer slots than threads keep threads
    free for /healthz, /readyz and /metrics however the model server behaves, and a
    per-model bound below the worker's keeps one slow model from taking the others'
    slots. A call that finds no slot within ``wait_seconds`` is refused (Overloaded)
    instead of queueing. Re-entrant per thread: a signature lookup holds the slot its
    own metadata call then uses.
    """

    def __init__(self, per_worker: int, per_model: int, wait_seconds: float) -> None:
        self.per_worker = per_worker
        self.per_model = per_model
        self.wait_seconds = wait_seconds
        self._worker = threading.BoundedSemaphore(per_worker)
        self._models: dict[str, threading.BoundedSemaphore] = {}
        self._models_lock = threading.Lock()
        self._held = threading.local()

    @contextlib.contextmanager
    def admit(self, model: str | None) -> Iterator[None]:
        if getattr(self._held, "slot", False):
            yield  # this thread's outer call holds the slot
            return
        deadline = time.monotonic() + self.wait_seconds
        model_slots = self._model_slots(model) if model is not None else None
        if model_slots is not None and not model_slots.acquire(timeout=self.wait_seconds):
            metrics.model_server_call_refused(model, "model")
            raise Overloaded(f"Too many calls to model {model} are in progress; retry later")
        try:
            if not self._worker.acquire(timeout=max(0.0, deadline - time.monotonic())):
                metrics.model_server_call_refused(model, "worker")
                raise Overloaded("Too many model server calls are in progress; retry later")
            self._held.slot = True
            metrics.model_server_call_started()
            try:
                yield
            finally:
                metrics.model_server_call_finished()
                self._held.slot = False
                self._worker.release()
        finally:
            if model_slots is not None:
                model_slots.release()

    def _model_slots(self, model: str) -> threading.BoundedSemaphore:
        slots = self._models.get(model)
        if slots is None:
            with self._models_lock:
                slots = self._models.setdefault(model, threading.BoundedSemaphore(self.per_model))
        return slots


def prediction_client() -> PredictionClient:
    client = _client
    if client is None:
        client, _ = _build()
    return client


def signature_cache() -> SignatureCache:
    signatures = _signatures
    if signatures is None:
        _, signatures = _build()
    return signatures


def probe_client() -> PredictionClient:
    """A client for health checks: a short deadline and no retries (same shared channel)."""
    return PredictionClient(
        settings.TFSERVING_ADDRESS,
        timeout_seconds=min(PROBE_TIMEOUT_SECONDS, settings.TFSERVING_TIMEOUT_SECONDS),
        max_message_bytes=settings.TFSERVING_MAX_MESSAGE_BYTES,
        retries=0,
    )


def _build() -> tuple[PredictionClient, SignatureCache]:
    global _client, _signatures
    with _lock:
        if _client is None or _signatures is None:
            bulkhead = Bulkhead(
                per_worker=settings.MODEL_SERVER_CONCURRENCY,
                per_model=settings.MODEL_SERVER_CONCURRENCY_PER_MODEL,
                wait_seconds=settings.MODEL_SERVER_QUEUE_SECONDS,
            )
            client = PredictionClient(
                settings.TFSERVING_ADDRESS,
                timeout_seconds=settings.TFSERVING_TIMEOUT_SECONDS,
                max_message_bytes=settings.TFSERVING_MAX_MESSAGE_BYTES,
                retries=settings.TFSERVING_RETRIES,
                admission=bulkhead.admit,
            )
            _signatures = SignatureCache(
                # A miss happens inside some request: the metadata call carries its id.
                lambda ref, timeout_seconds: client.get_model_metadata(
                    ref, request_id=current_request_id(), timeout_seconds=timeout_seconds
                ),
                ttl_seconds=settings.SIGNATURE_CACHE_SECONDS,
                timeout_seconds=settings.TFSERVING_TIMEOUT_SECONDS,
                admission=bulkhead.admit,
            )
            _client = client
        return _client, _signatures


def reset() -> None:
    """Forget the client and cached signatures (settings changed); the next call rebuilds."""
    global _client, _signatures
    with _lock:
        if _client is not None:
            _client.close()
        _client = None
        _signatures = None
