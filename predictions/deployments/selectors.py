"""Reads: a served model's state (tables plus the versions in the repository), the whole
desired configuration at one revision, the history of a model, the traffic policies."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from predictions.deployments import repository
from predictions.deployments.models import (
    DeploymentEvent,
    DeploymentState,
    ServedModel,
)
from predictions.deployments.state import ModelState, Traffic, VersionPolicy


def state_of(model: ServedModel) -> ModelState:
    """The model's state now; ``model.labels`` may be prefetched."""
    folder = repository.local_folder(model.base_path)
    return ModelState(
        name=model.name,
        base_path=model.base_path,
        platform=model.platform,
        policy=VersionPolicy(
            model.version_policy,
            count=model.latest_versions,
            versions=tuple(sorted(int(v) for v in model.specific_versions)),
        ),
        labels={label.label: label.version for label in model.labels.all()},
        versions=None if folder is None else repository.published_versions(folder),
        traffic=_traffic(
            model.traffic_split, model.sticky, model.shadow_target, model.shadow_percent
        ),
    )


def _traffic(split: dict, sticky: bool, shadow_target: str, shadow_percent: float) -> Traffic:
    return Traffic(
        split=tuple(sorted((str(k), int(v)) for k, v in split.items())),
        sticky=sticky,
        shadow_target=shadow_target,
        shadow_percent=shadow_percent,
    )


def served_model(name: str) -> ServedModel | None:
    return ServedModel.objects.filter(name=name).prefetch_related("labels").first()


def model_state(name: str) -> ModelState | None:
    model = served_model(name)
    return None if model is None else state_of(model)


@dataclass(frozen=True)
class DesiredConfig:
    """Everything the model servers should serve, as of one revision of the tables."""

    revision: int
    states: tuple[ModelState, ...]
    removed: tuple[str, ...]  # models removed through the gateway: checked to be gone


def desired_config() -> DesiredConfig:
    with transaction.atomic():  # one snapshot: the revision matches the rows
        revision = current_revision()
        models = list(ServedModel.objects.prefetch_related("labels"))
        served = {model.name for model in models}
        removed = sorted(
            set(
                DeploymentEvent.objects.filter(kind=DeploymentEvent.REMOVE_MODEL)
                .values_list("model_name", flat=True)
                .distinct()
            )
            - served
        )
    return DesiredConfig(revision, tuple(state_of(model) for model in models), tuple(removed))


def current_revision() -> int:
    row = DeploymentState.objects.filter(pk=1).values_list("revision", flat=True).first()
    return row or 0


def is_seeded() -> bool:
    return DeploymentState.objects.filter(pk=1, seeded_at__isnull=False).exists()


def history(name: str, limit: int = 100) -> list[DeploymentEvent]:
    return list(DeploymentEvent.objects.filter(model_name=name)[:limit])


def last_change(name: str) -> DeploymentEvent | None:
    """The newest change of the model that is not a rollback and was not rolled back."""
    return (
        DeploymentEvent.objects.filter(model_name=name, rolled_back_by__isnull=True)
        .exclude(kind=DeploymentEvent.ROLLBACK)
        .first()
    )


@dataclass(frozen=True)
class RoutingSnapshot:
    """What each worker keeps of the tables for the request path (see routing.py)."""

    seeded: bool
    names: tuple[str, ...]
    traffic: dict[str, Traffic]  # only models with a policy


def routing_snapshot() -> RoutingSnapshot:
    with transaction.atomic():
        seeded = is_seeded()
        rows = list(
            ServedModel.objects.values_list(
                "name", "traffic_split", "sticky", "shadow_target", "shadow_percent"
            )
        )
    traffic = {}
    for name, *fields in rows:
        policy = _traffic(*fields)
        if not policy.is_default:
            traffic[name] = policy
    return RoutingSnapshot(seeded, tuple(name for name, *_ in rows), traffic)
