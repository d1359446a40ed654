"""Keeping every model server in step with the deployment tables.

``apply`` runs after each change: it pushes the config to every model server. Pushes
are safe from any number of gateway replicas at once because the config is a pure
function of the tables at one revision, pushing the same config again changes
nothing (TF Serving compares it with its own), and every pusher reads the revision
again after pushing and pushes anew if it moved: whichever push lands last, its
pusher then sees the newest revision, so the servers end on it. No lock is held while
a model server works.

``reconcile_once`` runs in each gunicorn worker at start and every RECONCILE_SECONDS
(with jitter): it compares what each server reports with the tables (models,
versions, where labels point), logs and records the drift, and pushes the config to
the servers that differ, so a restarted TF Serving gets its models, versions and
labels back without anyone acting.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.utils import timezone

from predictions.deployments import model_servers, seeding, selectors
from predictions.deployments.model_servers import PushResult, Unreachable
from predictions.deployments.models import ReconcileReport
from predictions.deployments.selectors import DesiredConfig
from tfserving.errors import UpstreamError

log = logging.getLogger(__name__)

_MAX_ROUNDS = 5  # revisions chased by one apply (each round is a change made meanwhile)
_WAIT_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class ApplyOutcome:
    """What pushing the config to every model server did."""

    results: tuple[PushResult, ...] = ()
    held_back: tuple[str, ...] = ()  # labels waiting for their version to load
    unreached: tuple[str, ...] = ()  # servers that did not answer

    @property
    def applied(self) -> bool:
        """Every server took the whole config."""
        return (
            bool(self.results)
            and all(result.applied for result in self.results)
            and not self.held_back
            and not self.unreached
        )

    @property
    def refused(self) -> tuple[PushResult, ...]:
        return tuple(r for r in self.results if not r.applied and not r.unreachable)

    def pending(self) -> list[str]:
        """Why the change is not (yet) served everywhere, for the client."""
        reasons = []
        unreached = len(self.unreached) + sum(1 for r in self.results if r.unreachable)
        if unreached or not (self.results or self.unreached):
            reasons.append(
                f"{unreached or 'every'} model server(s) did not answer; reconciliation "
                "pushes the change when they do"
            )
        reasons += [f"{held} waits for that version to load" for held in self.held_back]
        return reasons


def apply(*, request_id: str | None = None, wait_seconds: float = 0.0) -> ApplyOutcome:
    """Push the tables' config to every model server; with ``wait_seconds``, keep going
    until labels held back for versions still loading could be moved too."""
    outcome = ApplyOutcome()
    for _ in range(_MAX_ROUNDS):
        desired = selectors.desired_config()
        outcome = _push_everywhere(desired, request_id, time.monotonic() + wait_seconds)
        if selectors.current_revision() == desired.revision:
            break
    return outcome


def _push_everywhere(
    desired: DesiredConfig, request_id: str | None, deadline: float
) -> ApplyOutcome:
    results, held_back, unreached = [], [], []
    for target in model_servers.backends():
        pushed = None
        while True:
            try:
                view = model_servers.observe(
                    target, desired.states, all_labels=False, request_id=request_id
                )
            except Unreachable:
                unreached.append(target)
                break
            config, held = model_servers.config_for(view, desired.states)
            if config != pushed:
                result = model_servers.push(target, config, request_id=request_id)
                pushed = config
                if not result.applied:
                    results.append(result)
                    break
            failed = any(view.failed(h.model, h.version) for h in held)
            if not held or failed or time.monotonic() >= deadline:
                results.append(PushResult(target, applied=True))
                held_back += [str(h) for h in held]
                break
            time.sleep(_WAIT_POLL_SECONDS)
    return ApplyOutcome(tuple(results), tuple(dict.fromkeys(held_back)), tuple(unreached))


@dataclass(frozen=True)
class BackendReport:
    backend: str
    revision: int
    drift: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    pushed: bool = False
    outcome: str = "in step"


def reconcile_once(*, request_id: str | None = None) -> list[BackendReport]:
    """Seed the tables if they never were, then bring every model server in step."""
    seeding.seed_once()
    desired = selectors.desired_config()
    reports = [_reconcile(target, desired, request_id) for target in model_servers.backends()]
    if any(report.pushed for report in reports) and (
        selectors.current_revision() != desired.revision
    ):
        apply(request_id=request_id)  # a change came in while we pushed: push the newest
    _store(reports)
    return reports


def _reconcile(target: str, desired: DesiredConfig, request_id: str | None) -> BackendReport:
    try:
        view = model_servers.observe(
            target,
            desired.states,
            all_labels=True,
            extra_models=desired.removed,
            request_id=request_id,
        )
    except (Unreachable, UpstreamError) as error:
        log.warning("Reconciliation: model server %s did not answer: %s", target, error)
        return BackendReport(target, desired.revision, outcome=f"unreachable: {error}")
    differences, problems = model_servers.drift(view, desired.states, desired.removed)
    for problem in problems:
        log.error("Reconciliation: model server %s: %s", target, problem)
    if not differences:
        return BackendReport(target, desired.revision, problems=problems)
    log.warning(
        "Reconciliation: model server %s differs from the deployment tables (%s); "
        "pushing the config",
        target,
        "; ".join(differences),
    )
    config, _ = model_servers.config_for(view, desired.states)
    result = model_servers.push(target, config, request_id=request_id)
    outcome = "config pushed" if result.applied else f"push failed: {result.message}"
    if not result.applied:
        log.error("Reconciliation: pushing the config to %s failed: %s", target, result.message)
    return BackendReport(target, desired.revision, differences, problems, result.applied, outcome)


def _store(reports: list[BackendReport]) -> None:
    now = timezone.now()
    for report in reports:
        ReconcileReport.objects.update_or_create(
            backend=report.backend[:300],
            defaults={
                "checked_at": now,
                "revision": report.revision,
                "drift": report.drift,
                "problems": report.problems,
                "pushed": report.pushed,
                "outcome": report.outcome[:500],
            },
        )


# --- the background thread of each worker -----------------------------------------------

_lock = threading.Lock()
_thread: threading.Thread | None = None
_stop = threading.Event()
_pid = 0


def start() -> None:
    """Reconcile now and every RECONCILE_SECONDS, in a thread of this process (0: never)."""
    global _thread, _stop, _pid
    period = settings.RECONCILE_SECONDS
    if period <= 0:
        return
    with _lock:
        if _thread is not None and _thread.is_alive() and _pid == os.getpid():
            return
        _stop = threading.Event()
        _pid = os.getpid()
        _thread = threading.Thread(
            target=_run, args=(period, _stop), name="reconciler", daemon=True
        )
        _thread.start()


def stop(timeout: float = 5.0) -> None:
    with _lock:
        thread = _thread
        _stop.set()
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout)


def _run(period: float, stop_event: threading.Event) -> None:
    # Workers start together: spread their first and later rounds.
    delay = random.uniform(0.0, min(1.0, period))
    try:
        while not stop_event.wait(delay):
            close_old_connections()
            try:
                reconcile_once()
            except DatabaseError as error:
                log.error("Reconciliation skipped: the database is unavailable (%s)", error)
            except Exception:  # the thread must outlive any one failed round
                log.exception("Reconciliation failed; retrying after the next interval")
            delay = period * random.uniform(0.9, 1.1)
    finally:
        connections.close_all()
