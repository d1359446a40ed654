"""The payload logging policy that applies to an exchange, read from a per-process snapshot.

Every inference request asks which policy applies to it, so the policies are not read
from the database each time: each worker keeps a snapshot of the whole (small) table
and re-reads it every PAYLOAD_POLICY_CACHE_SECONDS. A model without a policy costs one
set lookup. A change made through this process (API or admin) replaces the snapshot at
once; other workers and replicas see it within PAYLOAD_POLICY_CACHE_SECONDS.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError

from predictions.payloads.models import (
    DEFAULT_MAX_BYTES,
    DIRECTIONS,
    ERRORS_ALWAYS,
    ERRORS_NEVER,
    PayloadLoggingPolicy,
)

log = logging.getLogger(__name__)

_SAMPLING_SCALE = 2**64


@dataclass(frozen=True)
class Policy:
    sample_rate: float = 0.0
    directions: tuple[str, ...] = DIRECTIONS
    errors: str = ERRORS_ALWAYS
    max_bytes: int = DEFAULT_MAX_BYTES
    redact: frozenset[str] = frozenset()
    sinks: tuple[str, ...] = ("database",)

    @classmethod
    def of(cls, row: PayloadLoggingPolicy) -> Policy:
        return cls(
            sample_rate=row.sample_rate,
            directions=tuple(d for d in DIRECTIONS if d in row.directions),
            errors=row.errors,
            max_bytes=row.max_bytes,
            redact=frozenset(row.redact),
            sinks=tuple(dict.fromkeys(row.sinks)),
        )

    def as_dict(self) -> dict:
        return {
            "sample_rate": self.sample_rate,
            "directions": list(self.directions),
            "errors": self.errors,
            "max_bytes": self.max_bytes,
            "redact": sorted(self.redact),
            "sinks": list(self.sinks),
        }

    def reason_to_log(self, request_id: str, failed: bool) -> str | None:
        """ "error" or "sampled" if this exchange is to be logged, else None.

        A failed exchange is always logged (errors "always"), never ("never"), or sampled
        like a successful one ("sampled").
        """
        if failed and self.errors == ERRORS_ALWAYS:
            return "error"
        if failed and self.errors == ERRORS_NEVER:
            return None
        return "sampled" if sampled(request_id, self.sample_rate) else None


OFF = Policy()  # what a model without a policy has: nothing is logged


def sampled(request_id: str, rate: float) -> bool:
    """Whether a request is in the sample: decided by its id, so every worker and replica
    agrees, and its request and response are logged (or not) together."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < rate * _SAMPLING_SCALE


PolicyKey = tuple[str, int | None, str]  # model name, version (or None), label (or "")


@dataclass(frozen=True)
class _Snapshot:
    loaded_at: float
    policies: dict[PolicyKey, Policy] = field(default_factory=dict)
    model_names: frozenset[str] = frozenset()


_EMPTY = _Snapshot(loaded_at=float("-inf"))
_snapshot = _EMPTY
_lock = threading.Lock()


def policy_for(model_name: str, version: int | None, label: str | None) -> Policy | None:
    """The policy of an exchange (None: the model has none), most specific first."""
    snapshot = _current()
    if model_name not in snapshot.model_names:
        return None
    policies = snapshot.policies
    return (
        (policies.get((model_name, version, "")) if version is not None else None)
        or (policies.get((model_name, None, label)) if label else None)
        or policies.get((model_name, None, ""))
    )


def forget() -> None:
    """Drop the snapshot (a policy changed): the next lookup reads the table again."""
    global _snapshot
    _snapshot = _EMPTY


def _current() -> _Snapshot:
    global _snapshot
    snapshot = _snapshot
    if time.monotonic() - snapshot.loaded_at < settings.PAYLOAD_POLICY_CACHE_SECONDS:
        return snapshot
    with _lock:
        if _snapshot is not snapshot:  # another thread has just read it
            return _snapshot
        try:
            _snapshot = _read()
        except DatabaseError:
            # Logging payloads must not fail the request: keep what we had, retry later.
            log.exception("Could not read the payload logging policies")
            _snapshot = _Snapshot(time.monotonic(), snapshot.policies, snapshot.model_names)
        return _snapshot


def _read() -> _Snapshot:
    policies = {
        (row.model_name, row.model_version, row.version_label): Policy.of(row)
        for row in PayloadLoggingPolicy.objects.all()
    }
    return _Snapshot(
        loaded_at=time.monotonic(),
        policies=policies,
        model_names=frozenset(name for name, _, _ in policies),
    )
