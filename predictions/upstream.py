"""The model server as this process sees it: one PredictionClient and one SignatureCache.

Both are built from settings on first use, in the process that uses them (after
gunicorn forks: the client opens its gRPC channel lazily and re-opens it when the
process id changes), and shared by every thread of the worker.
"""

from __future__ import annotations

import threading

from django.conf import settings

from predictions.request_context import current_request_id
from predictions.tfserving.client import PredictionClient
from predictions.tfserving.signatures import SignatureCache

# Orchestrator probes time out after a few seconds; a readiness answer must come first.
PROBE_TIMEOUT_SECONDS = 2.0

_lock = threading.Lock()
_client: PredictionClient | None = None
_signatures: SignatureCache | None = None


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
            client = PredictionClient(
                settings.TFSERVING_ADDRESS,
                timeout_seconds=settings.TFSERVING_TIMEOUT_SECONDS,
                max_message_bytes=settings.TFSERVING_MAX_MESSAGE_BYTES,
                retries=settings.TFSERVING_RETRIES,
            )
            _signatures = SignatureCache(
                # A miss happens inside some request: the metadata call carries its id.
                lambda ref: client.get_model_metadata(ref, request_id=current_request_id()),
                ttl_seconds=settings.SIGNATURE_CACHE_SECONDS,
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
