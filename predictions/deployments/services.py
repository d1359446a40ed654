"""What the deployment routes, the admin and the management commands do, without HTTP.

The functions taking a RequestContext pass the gate first (permissions.deployable_model:
the deploy permission, then the model; both failures are the 404 of an unknown model),
check against the model servers what must hold before the change (a label or a split
points only at AVAILABLE versions), then make the change as one recorded event
(changes.commit_change, which re-checks what the tables say under its lock) and push
it to every model server (changes.apply_or_undo).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from django.conf import settings

from predictions.access.callers import Caller
from predictions.context import RequestContext
from predictions.deployments import model_servers, reconciler, repository, seeding, selectors
from predictions.deployments.changes import (
    FileMoves,
    apply_or_undo,
    commit_change,
    database_errors,
    restore_state,
)
from predictions.deployments.errors import DeploymentConflict, InvalidDeployment
from predictions.deployments.model_servers import Unreachable
from predictions.deployments.models import (
    LABEL_PATTERN,
    MODEL_NAME_PATTERN,
    DeploymentEvent,
    ServedModel,
    VersionLabel,
)
from predictions.deployments.permissions import authorize_deploy, deployable_model
from predictions.deployments.reconciler import ApplyOutcome
from predictions.deployments.state import ModelState, Traffic, VersionPolicy
from tfserving.errors import ModelNotFound, UpstreamError
from tfserving.models import ModelRef

LATEST = VersionPolicy()  # TF Serving's default: the newest version


@dataclass(frozen=True)
class ChangeResult:
    """A change and how far it got: ``deployment`` is None when there was nothing to change."""

    model: str
    deployment: DeploymentEvent | None
    outcome: ApplyOutcome
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def applied(self) -> bool:
        return self.outcome.applied

    @property
    def pending(self) -> list[str]:
        return self.outcome.pending()


# --- reads -----------------------------------------------------------------------------------


def traffic(context: RequestContext, name: str) -> dict[str, Any]:
    model = deployable_model(context, "traffic", ModelRef(name))
    return {"model": name, **selectors.state_of(model).traffic.as_json()}


def deployment_history(context: RequestContext, name: str, limit: int = 100) -> list:
    context.audit.note_model("deployments", ModelRef(name))
    with database_errors():
        authorize_deploy(context.caller, name)
        events = selectors.history(name, limit)
        if not events and selectors.served_model(name) is None:
            raise ModelNotFound(ModelRef(name))
    return events


def model_versions(context: RequestContext, name: str) -> dict[str, Any]:
    """The model's versions in the repository, their state on the model servers, their labels."""
    model = deployable_model(context, "versions", ModelRef(name))
    state = selectors.state_of(model)
    reported = _states_everywhere(name, context.request_id)
    aspired = state.aspired() or frozenset()
    labels: dict[int, list[str]] = {}
    for label, version in sorted(state.labels.items()):
        labels.setdefault(version, []).append(label)
    versions = sorted(set(state.versions or ()) | set(reported))
    return {
        "model": name,
        "version_policy": state.policy.as_json(),
        "versions": [
            {
                "version": version,
                "state": ",".join(sorted(reported.get(version, {"UNKNOWN"}))),
                "served": version in aspired,
                "labels": labels.get(version, []),
            }
            for version in versions
        ],
        "retired": list(repository.retired_versions(name)),
    }


def _states_everywhere(name: str, request_id: str) -> dict[int, set[str]]:
    states: dict[int, set[str]] = {}
    for target in model_servers.backends():
        try:
            statuses = model_servers.version_statuses(target, name, request_id)
        except Unreachable:
            continue
        for version, status in statuses.items():
            states.setdefault(version, set()).add(status.state)
    return states


# --- changes ---------------------------------------------------------------------------------


def move_label(context: RequestContext, name: str, label: str, version: int) -> ChangeResult:
    """Point ``label`` (new or existing) at ``version``, which must be AVAILABLE."""
    model = deployable_model(context, "move_label", ModelRef(name, label=label))
    if not re.match(LABEL_PATTERN, label):
        raise InvalidDeployment(
            f"Label {label!r} must start with a letter and hold only letters, digits, '_', "
            "'.' and '-' (at most 100)"
        )
    state = selectors.state_of(model)
    previous = state.labels.get(label)
    if previous == version:
        return _unchanged(name, context)
    require_available(state, version, "a label", context.request_id)

    def change(model: ServedModel | None, moves: FileMoves) -> ServedModel:
        model = _still_there(name, model)
        _check_served(selectors.state_of(model), version)
        VersionLabel.objects.update_or_create(
            model=model, label=label, defaults={"version": version}
        )
        return model

    moved = "moved" if previous is not None else "set"
    summary = f"label {label} {moved} to version {version}" + (
        f" (was {previous})" if previous is not None else ""
    )
    event = commit_change(
        name,
        DeploymentEvent.MOVE_LABEL,
        summary,
        context.caller,
        change,
        detail={"label": label, "from": previous, "to": version},
    )
    return ChangeResult(name, event, apply_or_undo(event, request_id=context.request_id))


def set_traffic(
    context: RequestContext,
    name: str,
    split: dict[str, int],
    sticky: bool,
    shadow: dict[str, Any] | None,
) -> ChangeResult:
    """Replace the model's traffic policy; every label and version it names must be AVAILABLE."""
    model = deployable_model(context, "traffic", ModelRef(name))
    wanted = Traffic(
        split=tuple(sorted(split.items())),
        sticky=sticky and bool(split),
        shadow_target=shadow["target"] if shadow else "",
        shadow_percent=float(shadow["percent"]) if shadow else 0.0,
    )
    state = selectors.state_of(model)
    if wanted == state.traffic:
        return _unchanged(name, context)
    for target in sorted(wanted.targets()):
        version = state.version_of(target)
        if version is None:
            raise DeploymentConflict(f"Model {name} has no label {target!r}")
        require_available(state, version, "the traffic policy", context.request_id)

    def change(model: ServedModel | None, moves: FileMoves) -> ServedModel:
        model = _still_there(name, model)
        now = selectors.state_of(model)
        for target in wanted.targets():
            if now.version_of(target) is None:
                raise DeploymentConflict(f"Model {name} has no label {target!r}")
        model.traffic_split = dict(wanted.split)
        model.sticky = wanted.sticky
        model.shadow_target = wanted.shadow_target
        model.shadow_percent = wanted.shadow_percent
        model.save()
        return model

    event = commit_change(
        name, DeploymentEvent.TRAFFIC, _describe_traffic(wanted), context.caller, change
    )
    return ChangeResult(name, event, apply_or_undo(event, request_id=context.request_id))


def _describe_traffic(traffic: Traffic) -> str:
    if traffic.is_default:
        return "traffic: the model server's latest version"
    parts = []
    if traffic.split:
        entries = ", ".join(f"{target} {weight}%" for target, weight in traffic.split)
        parts.append(f"split {entries}" + (" (sticky)" if traffic.sticky else ""))
    if traffic.shadow_target:
        parts.append(f"shadow {traffic.shadow_percent:g}% to {traffic.shadow_target}")
    return "traffic: " + "; ".join(parts)


def delete_version(context: RequestContext, name: str, version: int) -> ChangeResult:
    """Take a version out of the base path (into .retired/, so a rollback can bring it back)."""
    model = deployable_model(context, "delete_version", ModelRef(name, version=version))
    folder = repository_folder(model)

    def change(model: ServedModel | None, moves: FileMoves) -> ServedModel:
        model = _still_there(name, model)
        state = selectors.state_of(model)
        if version not in (state.versions or ()):
            raise ModelNotFound(ModelRef(name, version=version))
        pinned = state.pinned_versions().get(version)
        if pinned is not None:
            raise DeploymentConflict(
                f"Version {version} of model {name} is in use by {pinned}; point it elsewhere first"
            )
        if state.versions == (version,):
            raise DeploymentConflict(
                f"Version {version} is the only version of model {name}; remove the model instead"
            )
        moves.retire(name, folder, version)
        return model

    event = commit_change(
        name, DeploymentEvent.DELETE_VERSION, f"deleted version {version}", context.caller, change
    )
    return ChangeResult(name, event, apply_or_undo(event, request_id=context.request_id))


def rollback(context: RequestContext, name: str) -> ChangeResult:
    """Undo the model's newest change that was not undone yet (repeat to walk further back)."""
    context.audit.note_model("rollback", ModelRef(name))
    with database_errors():
        authorize_deploy(context.caller, name)
        seeding.seed_once()
        event = selectors.last_change(name)
        if event is None:
            if selectors.served_model(name) is None:
                raise ModelNotFound(ModelRef(name))
            raise DeploymentConflict(f"Model {name} has no change to roll back")
    target = None if event.before is None else ModelState.from_json(name, event.before)

    def change(model: ServedModel | None, moves: FileMoves) -> ServedModel | None:
        latest = selectors.last_change(name)
        if latest is None or latest.pk != event.pk:
            raise DeploymentConflict(f"Model {name} changed meanwhile; read its history again")
        return restore_state(name, model, target, moves)

    rolled = commit_change(
        name,
        DeploymentEvent.ROLLBACK,
        f"rolled back #{event.pk}: {event.summary}",
        context.caller,
        change,
        detail={"rolled_back": event.pk},
        undoes=event,
    )
    # Labels restored onto versions coming back from .retired wait for them to load.
    outcome = apply_or_undo(rolled, request_id=context.request_id, wait=True)
    return ChangeResult(name, rolled, outcome)


# --- models (admin and management commands) ----------------------------------------------------


def add_model(
    actor: Caller | None, name: str, *, base_path: str = "", policy: VersionPolicy = LATEST
) -> ChangeResult:
    if not re.match(MODEL_NAME_PATTERN, name):
        raise InvalidDeployment(
            f"Model name {name!r} must start with a letter or digit and hold only letters, "
            "digits, '_', '.' and '-' (at most 200)"
        )
    with database_errors():
        seeding.seed_once()

    def change(model: ServedModel | None, moves: FileMoves) -> ServedModel:
        if model is not None:
            raise DeploymentConflict(f"Model {name} exists already")
        return ServedModel.objects.create(
            name=name,
            base_path=base_path or repository.served_base_path(name),
            version_policy=policy.kind,
            latest_versions=policy.count,
            specific_versions=list(policy.versions),
        )

    event = commit_change(
        name, DeploymentEvent.ADD_MODEL, f"added, serving {policy.describe()}", actor, change
    )
    return ChangeResult(name, event, apply_or_undo(event, wait=True))


def remove_model(actor: Caller | None, name: str) -> ChangeResult:
    """Stop serving the model (its folder stays in the repository; a rollback restores it)."""

    def change(model: ServedModel | None, moves: FileMoves) -> None:
        _still_there(name, model).delete()

    event = commit_change(name, DeploymentEvent.REMOVE_MODEL, "removed", actor, change)
    return ChangeResult(name, event, apply_or_undo(event))


def set_version_policy(actor: Caller | None, name: str, policy: VersionPolicy) -> ChangeResult:
    def change(model: ServedModel | None, moves: FileMoves) -> ServedModel:
        model = _still_there(name, model)
        state = selectors.state_of(model).with_changes(policy=policy)
        check_pins_served(state, f"The policy {policy.describe()}")
        model.version_policy = policy.kind
        model.latest_versions = policy.count
        model.specific_versions = list(policy.versions)
        model.save()
        return model

    event = commit_change(
        name, DeploymentEvent.UPDATE_MODEL, f"now serving {policy.describe()}", actor, change
    )
    return ChangeResult(name, event, apply_or_undo(event, wait=True))


# --- checks --------------------------------------------------------------------------------


def require_available(
    state: ModelState, version: int, what: str, request_id: str | None = None
) -> None:
    """TF Serving's rule, checked first: labels point only at versions AVAILABLE everywhere."""
    _check_served(state, version)
    reachable, elsewhere = 0, []
    for target in model_servers.backends():
        try:
            status = model_servers.version_statuses(target, state.name, request_id).get(version)
        except Unreachable:
            continue
        reachable += 1
        if status is None or status.state != model_servers.AVAILABLE:
            elsewhere.append(status.state if status else "not loaded")
    if not reachable:
        raise UpstreamError.from_status(grpc.StatusCode.UNAVAILABLE, "no model server answered")
    if elsewhere:
        raise DeploymentConflict(
            f"Version {version} of model {state.name} is {', '.join(sorted(set(elsewhere)))} "
            f"on {len(elsewhere)} of {reachable} model servers; {what} can point only at a "
            "version that is AVAILABLE"
        )


def _check_served(state: ModelState, version: int) -> None:
    if state.versions is not None and version not in state.versions:
        raise DeploymentConflict(
            f"Version {version} of model {state.name} is not in the model repository"
        )
    aspired = state.aspired()
    if aspired is not None and version not in aspired:
        raise DeploymentConflict(
            f"Version {version} of model {state.name} is not served: the model's version "
            f"policy serves {state.policy.describe()}"
        )


def check_pins_served(state: ModelState, cause: str) -> None:
    """Labels and the traffic policy must keep pointing at versions the policy serves."""
    aspired = state.aspired()
    if aspired is None:
        return
    for version, pinned_by in sorted(state.pinned_versions().items()):
        if version not in aspired:
            raise DeploymentConflict(
                f"{cause} would stop serving version {version} of model {state.name}, which "
                f"{pinned_by} points at; point it elsewhere first"
            )


def _still_there(name: str, model: ServedModel | None) -> ServedModel:
    if model is None:
        raise ModelNotFound(ModelRef(name))
    return model


def repository_folder(model: ServedModel) -> Path:
    folder = repository.local_folder(model.base_path)
    if folder is None:
        raise DeploymentConflict(
            f"The base path of model {model.name} ({model.base_path}) is outside the model "
            f"repository ({settings.MODEL_SERVER_REPOSITORY}), where the gateway manages versions"
        )
    return folder


def _unchanged(name: str, context: RequestContext) -> ChangeResult:
    """Nothing to record; the push still says whether the servers have it."""
    with database_errors():
        outcome = reconciler.apply(request_id=context.request_id)
    return ChangeResult(name, None, outcome)
