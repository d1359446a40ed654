"""The traffic policy on the request path: which version answers a request that names none.

A request that names a version or a label is served as named. For one that names
neither, the model's policy picks an entry of its split (smooth weighted round robin,
so 10% is every tenth request, not 10% on average; or, when sticky, by a hash of the
caller, so one client always sees one version) and may send a shadow copy elsewhere
(shadow.py). A model without a policy is served as TF Serving serves it (its latest).

It costs nothing measurable when a model has none: each worker keeps one snapshot of
all policies (one query, see selectors.routing_snapshot), refreshed every
DEPLOYMENT_CACHE_SECONDS and at once after a change committed in this process, so the
hook is a dictionary lookup. If the database is down the last snapshot stays in use
(and is retried after the same interval); a worker that never got one routes as TF
Serving does.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError

from predictions.access.callers import Caller
from predictions.context import RequestContext
from predictions.deployments import selectors, shadow
from predictions.deployments.selectors import RoutingSnapshot
from predictions.deployments.state import Traffic, target_ref
from tfserving.models import ModelRef

log = logging.getLogger(__name__)

Response = TypeVar("Response")

SPLIT = "split"
STICKY = "sticky"


@dataclass(frozen=True)
class Route:
    """Where a request goes: ``ref``, and in the background ``shadow`` as well."""

    ref: ModelRef
    shadow: ModelRef | None = None
    context: RequestContext | None = None
    method: str = ""

    def call(self, call: Callable[[ModelRef], Response]) -> Response:
        """``call(self.ref)``; then, off the request path, ``call(self.shadow)`` to compare."""
        response = call(self.ref)
        if self.shadow is not None and self.context is not None:
            shadow.submit(self.context, self.method, self.shadow, call, response)
        return response


def route(context: RequestContext, ref: ModelRef, method: str) -> Route:
    """The route of a request for ``ref`` (the hook the inference services call)."""
    if ref.version is not None or ref.label is not None:
        return Route(ref)
    chooser = _cache.chooser(ref.name)
    if chooser is None:
        return Route(ref)
    chosen, reason = chooser.choose(context.caller)
    if chosen is not None:
        context.audit.note_route(chosen, reason)
    target = chosen or ref
    # The share counts the requests served elsewhere: a copy of a request to its own
    # target would compare the version with itself.
    copied = target != chooser.shadow_ref and chooser.take_shadow()
    return Route(target, chooser.shadow_ref if copied else None, context, method)


def served_model_names() -> tuple[str, ...] | None:
    """The models of the deployment tables, or None before they are seeded (or readable)."""
    snapshot = _cache.snapshot()
    return snapshot.names if snapshot is not None and snapshot.seeded else None


def invalidate() -> None:
    """Read the tables again on the next request (a change was committed)."""
    _cache.expire()


def reset() -> None:
    """Forget the snapshot and the splits' positions (tests)."""
    _cache.clear()


class _Chooser:
    """One model's policy in one worker, with the position of its round robin."""

    def __init__(self, model: str, traffic: Traffic) -> None:
        self.traffic = traffic
        entries = [(target_ref(model, target), weight) for target, weight in traffic.split]
        self._entries = [(ref, weight) for ref, weight in entries if weight > 0]
        self._total = sum(weight for _, weight in self._entries)
        self._current = [0] * len(self._entries)
        self._model = model
        self.shadow_ref = (
            target_ref(model, traffic.shadow_target) if traffic.shadow_target else None
        )
        self._shadow_credit = 0.0
        self._lock = threading.Lock()

    def choose(self, caller: Caller) -> tuple[ModelRef | None, str]:
        if not self._entries:
            return None, ""
        if self.traffic.sticky:
            return self._by_hash(caller), STICKY
        with self._lock:
            # nginx's smooth weighted round robin: every entry gains its weight, the
            # largest is chosen and pays the total back. Exact shares, evenly spread.
            best = 0
            for index, (_, weight) in enumerate(self._entries):
                self._current[index] += weight
                if self._current[index] > self._current[best]:
                    best = index
            self._current[best] -= self._total
        return self._entries[best][0], SPLIT

    def _by_hash(self, caller: Caller) -> ModelRef:
        digest = hashlib.sha256(f"{self._model}\0{caller.throttle_key}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") % self._total
        for ref, weight in self._entries:
            if point < weight:
                return ref
            point -= weight
        return self._entries[-1][0]

    def take_shadow(self) -> bool:
        """Whether this request is copied: exactly ``shadow_percent`` of them, spread evenly."""
        if self.shadow_ref is None:
            return False
        with self._lock:
            self._shadow_credit += self.traffic.shadow_percent / 100.0
            if self._shadow_credit >= 1.0 - 1e-9:
                self._shadow_credit -= 1.0
                return True
        return False


class _Cache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: RoutingSnapshot | None = None
        self._choosers: dict[str, _Chooser] = {}
        self._expires = 0.0

    def chooser(self, model: str) -> _Chooser | None:
        if time.monotonic() >= self._expires:
            self._refresh()
        return self._choosers.get(model)

    def snapshot(self) -> RoutingSnapshot | None:
        if time.monotonic() >= self._expires:
            self._refresh()
        return self._snapshot

    def _refresh(self) -> None:
        if not self._lock.acquire(blocking=self._snapshot is None):
            return  # another thread is refreshing: use the snapshot we have
        try:
            if time.monotonic() < self._expires:
                return
            self._expires = time.monotonic() + settings.DEPLOYMENT_CACHE_SECONDS
            try:
                snapshot = selectors.routing_snapshot()
            except DatabaseError as error:
                log.error("Traffic policies not refreshed, the database is unavailable: %s", error)
                return
            # A policy that did not change keeps its chooser, and so its position.
            self._choosers = {
                name: self._kept(name, traffic) for name, traffic in snapshot.traffic.items()
            }
            self._snapshot = snapshot
        finally:
            self._lock.release()

    def _kept(self, name: str, traffic: Traffic) -> _Chooser:
        chooser = self._choosers.get(name)
        return (
            chooser
            if chooser is not None and chooser.traffic == traffic
            else _Chooser(name, traffic)
        )

    def expire(self) -> None:
        self._expires = 0.0

    def clear(self) -> None:
        with self._lock:
            self._snapshot = None
            self._choosers = {}
            self._expires = 0.0


_cache = _Cache()
