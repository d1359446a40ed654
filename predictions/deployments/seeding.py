"""Filling the deployment tables from MODEL_CONFIG_FILE, once: the models the model
servers were started with become the gateway's, so the demo works as before.

Each model is placed at ``<MODEL_SERVER_REPOSITORY>/<folder>``, the folder being the last
part of its base path in the file: the repository holds one folder per model, as
``models/`` does, so ``models/models.config`` (relative paths, the embedded server) and
``deploy/tfserving/models.config`` (``/models/...``, TF Serving) seed the same thing.
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from google.protobuf import text_format

from predictions.deployments import repository, selectors
from predictions.deployments.models import (
    DeploymentEvent,
    DeploymentState,
    ServedModel,
    VersionLabel,
)
from predictions.deployments.state import policy_from_config
from tfserving.protos import model_server_config_pb2

log = logging.getLogger(__name__)


def seed_once(config_file: str | None = None) -> list[str]:
    """Add the file's models unless the tables were seeded before; the names added.

    Runs at most once per database (DeploymentState.seeded_at): a model removed later
    through the gateway is not brought back. A missing or unreadable file seeds nothing
    and is tried again next time.
    """
    if selectors.is_seeded():
        return []
    path = Path(config_file or settings.MODEL_CONFIG_FILE)
    try:
        config = text_format.Parse(
            path.read_text(encoding="utf-8"), model_server_config_pb2.ModelServerConfig()
        )
    except (OSError, text_format.ParseError) as error:
        log.error("Cannot seed the deployment tables from %s: %s", path, error)
        return []
    added = []
    with transaction.atomic():
        state = DeploymentState.locked()
        if state.seeded_at is not None:
            return []  # another worker seeded meanwhile
        for entry in config.model_config_list.config:
            if ServedModel.objects.filter(name=entry.name).exists():
                continue
            added.append(_add(entry, path))
        state.seeded_at = timezone.now()
        state.bump()
    if added:
        log.info("Seeded the deployment tables from %s: %s", path, ", ".join(added))
    return added


def _add(entry: model_server_config_pb2.ModelConfig, source: Path) -> str:
    policy = policy_from_config(entry)
    model = ServedModel.objects.create(
        name=entry.name,
        base_path=repository.served_base_path(PurePosixPath(entry.base_path).name),
        platform=entry.model_platform or "tensorflow",
        version_policy=policy.kind,
        latest_versions=policy.count,
        specific_versions=list(policy.versions),
    )
    VersionLabel.objects.bulk_create(
        VersionLabel(model=model, label=label, version=version)
        for label, version in sorted(entry.version_labels.items())
    )
    DeploymentEvent.objects.create(
        model_name=model.name,
        kind=DeploymentEvent.ADD_MODEL,
        summary=f"added from {source.name}",
        actor_name="seed",
        before=None,
        after=selectors.model_state(model.name).as_json(),
    )
    return model.name
