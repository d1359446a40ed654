"""How every change to the deployment tables is made: serialised, recorded with the state
before and after, with its file moves undone if the transaction fails, then pushed to
the model servers, and undone if they refuse it."""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable, Iterator, Set
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction

from predictions.access.callers import Caller
from predictions.deployments import reconciler, repository, selectors
from predictions.deployments.errors import DeploymentsUnavailable, RefusedByModelServer
from predictions.deployments.models import (
    DeploymentEvent,
    DeploymentState,
    ServedModel,
    VersionLabel,
)
from predictions.deployments.reconciler import ApplyOutcome
from predictions.deployments.state import ModelState

log = logging.getLogger(__name__)


@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """A database that is down or refuses a write answers 503, not 500."""
    try:
        yield
    except DatabaseError as error:
        log.error("Deployment tables unavailable: %s", error)
        raise DeploymentsUnavailable() from error


class FileMoves:
    """Folder moves in the repository made inside a transaction, undone if it fails.

    A discarded folder is only moved aside until ``finish`` (after the commit) deletes it.
    """

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []
        self._discarded: list[Path] = []

    def install(self, source: Any, base: Any, version: int) -> None:
        path = repository.install(source, base, version)
        self._undo.append(lambda: repository.discard(path))

    def retire(self, model: str, base: Any, version: int) -> None:
        repository.retire(model, base, version)
        self._undo.append(lambda: repository.restore(model, base, version))

    def restore(self, model: str, base: Any, version: int) -> None:
        repository.restore(model, base, version)
        self._undo.append(lambda: repository.retire(model, base, version))

    def discard(self, base: Path, version: int) -> None:
        held = repository.set_aside(base / str(version))
        self._discarded.append(held)
        self._undo.append(lambda: repository.install(held, base, version))

    def undo(self) -> None:
        for step in reversed(self._undo):
            try:
                step()
            except OSError:
                log.exception("Could not undo a move in the model repository")
        self._undo.clear()

    def finish(self) -> None:
        for held in self._discarded:
            shutil.rmtree(held.parent, ignore_errors=True)
        self._discarded.clear()


Change = Callable[[ServedModel | None, FileMoves], ServedModel | None]


def commit_change(
    name: str,
    kind: str,
    summary: str,
    actor: Caller | None,
    change: Change,
    *,
    detail: dict | None = None,
    undoes: DeploymentEvent | None = None,
) -> DeploymentEvent:
    """Run ``change`` on the model (None: it does not exist) and record it, atomically.

    ``change`` returns the model afterwards (None: removed). File moves it makes
    through the FileMoves it is given are undone when the transaction does not commit.
    """
    moves = FileMoves()
    try:
        with database_errors(), transaction.atomic():
            state = DeploymentState.locked()
            model = selectors.served_model(name)
            before = None if model is None else selectors.state_of(model)
            with repository.storage_errors():
                changed = change(model, moves)
            after = None if changed is None else selectors.model_state(name)
            event = DeploymentEvent.objects.create(
                model_name=name,
                kind=kind,
                summary=summary[:300],
                detail={**(detail or {}), **_actor_detail(actor)},
                actor_id=actor.user_id if actor else None,
                actor_name=(actor.username if actor else "system")[:150],
                before=None if before is None else before.as_json(),
                after=None if after is None else after.as_json(),
            )
            if undoes is not None:
                undoes.rolled_back_by = event
                undoes.save(update_fields=["rolled_back_by"])
            state.bump()
    except BaseException:
        moves.undo()
        raise
    return event


def _actor_detail(actor: Caller | None) -> dict:
    return {"api_key_id": actor.api_key_id} if actor and actor.api_key_id else {}


def restore_state(
    name: str,
    model: ServedModel | None,
    target: ModelState | None,
    moves: FileMoves,
    discard: Set[int] = frozenset(),
) -> ServedModel | None:
    """Make the tables and the repository hold ``target`` for the model (None: remove it).

    Versions the target lacks are retired (restorable), those in ``discard`` deleted.
    """
    if target is None:
        if model is not None:
            model.delete()
        return None
    model = model or ServedModel(name=name)
    model.base_path = target.base_path
    model.platform = target.platform
    model.version_policy = target.policy.kind
    model.latest_versions = target.policy.count
    model.specific_versions = list(target.policy.versions)
    model.traffic_split = dict(target.traffic.split)
    model.sticky = target.traffic.sticky
    model.shadow_target = target.traffic.shadow_target
    model.shadow_percent = target.traffic.shadow_percent
    model.save()
    model.labels.all().delete()
    VersionLabel.objects.bulk_create(
        VersionLabel(model=model, label=label, version=version)
        for label, version in target.labels.items()
    )
    folder = repository.local_folder(target.base_path)
    if target.versions is not None and folder is not None:
        present = set(repository.published_versions(folder))
        for version in sorted(present - set(target.versions)):
            if version in discard:
                moves.discard(folder, version)
            else:
                moves.retire(name, folder, version)
        for version in sorted(set(target.versions) - present):
            moves.restore(name, folder, version)
    return model


def apply_or_undo(
    event: DeploymentEvent, *, request_id: str | None = None, wait: bool = False
) -> ApplyOutcome:
    """Push the change to the model servers; if one refuses it, undo it and say why.

    A server that does not answer is no refusal: the change stays, and reconciliation
    pushes it when the server is back.
    """
    wait_seconds = settings.PUBLISH_WAIT_SECONDS if wait else 0.0
    with database_errors():
        outcome = reconciler.apply(request_id=request_id, wait_seconds=wait_seconds)
    if not outcome.refused:
        return outcome
    message = outcome.refused[0].message
    log.error("Model server refused %s (%s); undoing it", event, message)
    undo(event, request_id=request_id)
    raise RefusedByModelServer(f"The model server refused the change, which was undone: {message}")


def undo(
    event: DeploymentEvent, *, request_id: str | None = None, discard: Set[int] = frozenset()
) -> None:
    """Put the model back as it was before ``event`` and forget the event."""
    name = event.model_name
    before = None if event.before is None else ModelState.from_json(name, event.before)
    moves = FileMoves()
    try:
        with database_errors(), transaction.atomic():
            state = DeploymentState.locked()
            restore_state(name, selectors.served_model(name), before, moves, discard)
            event.delete()
            state.bump()
    except BaseException:
        moves.undo()
        raise
    moves.finish()
    with database_errors():
        reconciler.apply(request_id=request_id)
