"""The model repository on disk: one folder per model, numbered version folders below it
(TF Serving's layout), shared with the model servers.

A model's base path is what the model server is told; this gateway finds the same
folder under MODEL_REPOSITORY by the part of the base path below
MODEL_SERVER_REPOSITORY. Work in progress lives in ``.incoming/`` and versions taken out
of service in ``.retired/<model>/<version>``: both are in the repository, so moving a
folder in or out of a base path is one rename on one file system (a model server never
sees half a version), and neither is inside any base path the model servers scan.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from django.conf import settings

from predictions.deployments.errors import DeploymentConflict, RepositoryFull

INCOMING = ".incoming"
RETIRED = ".retired"
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
MAX_VERSION = 2**63 - 1  # versions are int64 in TF Serving's protos


def root() -> Path:
    return Path(settings.MODEL_REPOSITORY)


def served_base_path(folder: str) -> str:
    """The base path of a model in repository folder ``folder``, as the model server sees it."""
    return posixpath.join(settings.MODEL_SERVER_REPOSITORY, folder)


def local_folder(base_path: str) -> Path | None:
    """Where this gateway finds a model's base path, or None if it is outside the repository."""
    served_root = PurePosixPath(posixpath.normpath(settings.MODEL_SERVER_REPOSITORY))
    path = PurePosixPath(posixpath.normpath(base_path))
    if "://" in base_path or not path.is_relative_to(served_root) or path == served_root:
        return None
    relative = path.relative_to(served_root)
    if relative.parts[0] in (INCOMING, RETIRED):
        return None
    return root().joinpath(*relative.parts)


def has_saved_model(folder: Path) -> bool:
    return any((folder / name).is_file() for name in SAVED_MODEL_FILES)


def published_versions(folder: Path) -> tuple[int, ...]:
    """The version folders a model server would load: numbered, holding a SavedModel."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return ()
    return tuple(
        sorted(
            int(entry.name)
            for entry in entries
            if entry.name.isdigit()
            and int(entry.name) <= MAX_VERSION
            and entry.is_dir(follow_symlinks=False)
            and has_saved_model(Path(entry.path))
        )
    )


def retired_folder(model_name: str, version: int) -> Path:
    return root() / RETIRED / model_name / str(version)


def retired_versions(model_name: str) -> tuple[int, ...]:
    folder = root() / RETIRED / model_name
    try:
        return tuple(sorted(int(name) for name in os.listdir(folder) if name.isdigit()))
    except FileNotFoundError:
        return ()


@contextlib.contextmanager
def incoming() -> Iterator[Path]:
    """A new empty folder in the repository for work in progress, removed afterwards."""
    parent = root() / INCOMING
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=parent))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """A full disk is the client's problem to hear about (507), not an internal error."""
    try:
        yield
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise RepositoryFull() from error
        raise


def install(source: Path, base: Path, version: int) -> Path:
    """Rename the folder ``source`` to ``base/version`` (atomic: one rename)."""
    if not base.is_dir():
        base.mkdir(parents=True)
        base.chmod(0o755)  # the model server runs as another user, whatever our umask
    target = base / str(version)
    if target.exists():
        raise DeploymentConflict(f"Version {version} already exists in the model repository")
    try:
        os.rename(source, target)
    except OSError as error:
        if error.errno in (errno.EEXIST, errno.ENOTEMPTY):  # another publish won the race
            raise DeploymentConflict(
                f"Version {version} already exists in the model repository"
            ) from error
        if error.errno == errno.EXDEV:
            raise DeploymentConflict(
                f"{base} is on another file system than the model repository's {INCOMING} "
                "folder, so a version cannot be moved in atomically"
            ) from error
        raise
    return target


def set_aside(folder: Path) -> Path:
    """Take a folder out of its base path at once (one rename) into ``.incoming/``."""
    parent = root() / INCOMING
    parent.mkdir(parents=True, exist_ok=True)
    held = Path(tempfile.mkdtemp(dir=parent)) / folder.name
    os.rename(folder, held)
    return held


def discard(folder: Path) -> None:
    """Take a folder out of its base path at once, then delete it."""
    shutil.rmtree(set_aside(folder).parent, ignore_errors=True)


def retire(model_name: str, base: Path, version: int) -> None:
    """Move ``base/version`` to ``.retired/<model>/<version>``: unserved, but restorable."""
    target = retired_folder(model_name, version)
    if target.exists():
        raise DeploymentConflict(
            f"Version {version} of model {model_name} is already in the repository's "
            f"{RETIRED} folder; remove that copy first"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(base / str(version), target)


def restore(model_name: str, base: Path, version: int) -> None:
    """Move a retired version back into its base path."""
    source = retired_folder(model_name, version)
    if not source.is_dir():
        raise DeploymentConflict(
            f"Version {version} of model {model_name} is no longer in the model repository"
        )
    install(source, base, version)
