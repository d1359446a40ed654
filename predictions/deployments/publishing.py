"""Publishing a version: an archive of one SavedModel version folder becomes
``<base path>/<version>`` in the model repository, atomically, and is served once the
model servers load it.

The archive is unpacked into a temporary folder in the repository (same file system)
with every check of archives.py, its saved_model.pb must parse and keep the
signatures clients use (savedmodel_checks.py), and only then is the folder renamed
into the base path: a model server never sees half a version, and a refused archive
leaves the repository as it was. The rename and the recorded event commit together
(the folder is moved out again if the database write fails). A version the model
server cannot load is taken out again and reported (422); one that is still loading
when the wait ends is reported as such (202) and keeps loading.
"""

from __future__ import annotations

import hashlib
import logging
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from predictions.access.callers import Caller
from predictions.context import RequestContext
from predictions.deployments import archives, model_servers, reconciler, repository, selectors
from predictions.deployments.changes import FileMoves, commit_change, database_errors, undo
from predictions.deployments.errors import DeploymentConflict, InvalidArchive, LoadFailed
from predictions.deployments.models import DeploymentEvent, ServedModel
from predictions.deployments.permissions import deployable_model
from predictions.deployments.savedmodel_checks import check_compatible, read_signatures
from predictions.deployments.services import (
    ChangeResult,
    check_pins_served,
    repository_folder,
)
from predictions.deployments.state import ModelState, VersionPolicy
from tfserving.models import ModelRef

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    """A publish request's form: the archive and the options."""

    archive: BinaryIO
    version: int | None = None
    wait: bool = True


def publish_version(
    context: RequestContext, name: str, read_upload: Callable[[], Upload]
) -> ChangeResult:
    """POST /v1/models/{name}/versions. The body is read (``read_upload``) only once the
    caller has passed the gate: nobody without the deploy permission gets to upload."""
    model = deployable_model(context, "publish", ModelRef(name))
    upload = read_upload()
    if upload.version is not None:
        context.audit.note_version(upload.version)
    return publish(
        model,
        upload.archive,
        context.caller,
        version=upload.version,
        wait=upload.wait,
        request_id=context.request_id,
    )


def publish(
    model: ServedModel,
    archive: BinaryIO,
    actor: Caller | None,
    *,
    version: int | None = None,
    wait: bool = True,
    request_id: str | None = None,
) -> ChangeResult:
    name = model.name
    folder = repository_folder(model)
    limits = archives.UnpackLimits(settings.PUBLISH_MAX_UNPACKED_BYTES, settings.PUBLISH_MAX_FILES)
    with repository.incoming() as work, repository.storage_errors():
        digest, archive_bytes = _sha256(archive)
        unpacked = archives.unpack(archive, _empty(work / "unpacked"), limits)
        signatures = read_signatures(unpacked.folder)
        state = selectors.state_of(model)
        if state.versions:
            newest = max(state.versions)
            check_compatible(signatures, read_signatures(folder / str(newest)), newest)
        number = version or _next_version(name, state)

        def change(model: ServedModel | None, moves: FileMoves) -> ServedModel:
            if model is None:
                raise DeploymentConflict(f"Model {name} was removed meanwhile")
            now = selectors.state_of(model)
            _check_number(name, number, now)
            check_pins_served(_with_version(now, number), f"Publishing version {number}")
            moves.install(unpacked.folder, folder, number)
            if now.policy.kind == "specific":  # a listed policy would never load it
                model.specific_versions = sorted({*model.specific_versions, number})
                model.save(update_fields=["specific_versions", "updated_at"])
            return model

        event = commit_change(
            name,
            DeploymentEvent.PUBLISH,
            f"published version {number} ({unpacked.file_count} files, "
            f"{unpacked.total_bytes} bytes, sha256 {digest[:12]})",
            actor,
            change,
            detail={
                "version": number,
                "sha256": digest,
                "archive_bytes": archive_bytes,
                "bytes": unpacked.total_bytes,
                "files": unpacked.file_count,
            },
        )
    log.info("Published version %s of model %s (%s)", number, name, event.summary)
    with database_errors():
        outcome = reconciler.apply(request_id=request_id)
    # A refusal of this config can only be about the new version: it failed to load.
    failure = outcome.refused[0].message if outcome.refused else ""
    state_name = "UNKNOWN"
    # Waiting is for a server that took the config; none answering is reported at once.
    if wait and not failure and any(result.applied for result in outcome.results):
        state_name, failure = model_servers.wait_for_version(
            name, number, settings.PUBLISH_WAIT_SECONDS, request_id
        )
    if failure:
        log.error("Version %s of model %s failed to load: %s; taking it out", number, name, failure)
        undo(event, request_id=request_id, discard={number})
        raise LoadFailed(
            f"Version {number} of model {name} failed to load on the model server, and "
            f"was taken out of the repository again: {failure}"
        )
    return ChangeResult(name, event, outcome, {"version": number, "state": state_name})


def publish_folder(
    model: ServedModel,
    source: Path,
    actor: Caller | None,
    *,
    version: int | None = None,
    wait: bool = True,
) -> ChangeResult:
    """Publish a SavedModel version folder (manage.py publish_model): packed, then as above."""
    if not source.is_dir():
        raise InvalidArchive(f"{source} is not a folder")
    with repository.incoming() as work:
        packed = work / "version.tar"
        with tarfile.open(packed, "w") as tar:
            tar.add(source, arcname=".", filter=_no_links)
        with open(packed, "rb") as archive:
            return publish(model, archive, actor, version=version, wait=wait)


def _no_links(member: tarfile.TarInfo) -> tarfile.TarInfo:
    if not (member.isfile() or member.isdir()):
        raise InvalidArchive(f"{member.name} is not a file or a folder")
    return member


def _sha256(archive: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := archive.read(archives.CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)
    archive.seek(0)
    return digest.hexdigest(), size


def _empty(folder: Path) -> Path:
    folder.mkdir()
    return folder


def _next_version(name: str, state: ModelState) -> int:
    used = set(state.versions or ()) | set(repository.retired_versions(name))
    return max(used, default=0) + 1


def _check_number(name: str, number: int, state: ModelState) -> None:
    if number in (state.versions or ()):
        raise DeploymentConflict(f"Version {number} of model {name} exists already")
    if number in repository.retired_versions(name):
        raise DeploymentConflict(
            f"Version {number} of model {name} was deleted and is kept for a rollback "
            f"(in the repository's {repository.RETIRED} folder); publish another number"
        )


def _with_version(state: ModelState, number: int) -> ModelState:
    policy = state.policy
    if policy.kind == "specific":
        policy = VersionPolicy("specific", versions=tuple(sorted({*policy.versions, number})))
    return state.with_changes(versions=(*(state.versions or ()), number), policy=policy)
