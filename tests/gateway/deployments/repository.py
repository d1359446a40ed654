"""A temporary model repository with the demo half_plus_two (and a copy under a
latest-1 policy), archives of SavedModel versions good and bad, and a look at the
repository's files so a test can tell it was left untouched."""

from __future__ import annotations

import io
import shutil
import tarfile
import zipfile
from pathlib import Path

from tests.support.processes import ROOT

DEMO_MODELS = ROOT / "models"
# v1: y = 0.5x + 2, v2: y = 0.5x + 3 (models/README.md)
V1_ANSWERS = [2.5, 3.0, 4.5]
V2_ANSWERS = [3.5, 4.0, 5.5]
BODY = {"instances": [1.0, 2.0, 5.0]}

CONFIG = """
model_config_list {
  config {
    name: "half_plus_two"
    base_path: "{repository}/half_plus_two"
    model_platform: "tensorflow"
    model_version_policy { all {} }
    version_labels { key: "stable" value: 1 }
    version_labels { key: "canary" value: 2 }
  }
  config {
    name: "newest"
    base_path: "{repository}/newest"
    model_platform: "tensorflow"
    model_version_policy { latest { num_versions: 1 } }
  }
}
"""


def fill(repository: Path) -> None:
    """Empty ``repository``, then put back half_plus_two 1 and 2 and newest 1 and 2."""
    if repository.exists():
        shutil.rmtree(repository)
    for model in ("half_plus_two", "newest"):
        for version in ("1", "2"):
            shutil.copytree(DEMO_MODELS / "half_plus_two" / version, repository / model / version)


def config_text(repository: Path) -> str:
    return CONFIG.replace("{repository}", str(repository))


def files(repository: Path) -> list[str]:
    """Every path under ``repository``, relative, sorted (empty folders included)."""
    return sorted(str(path.relative_to(repository)) for path in repository.rglob("*"))


def served_files(repository: Path) -> list[str]:
    """The repository's files outside its work folders (.incoming is allowed to hold empties)."""
    return [name for name in files(repository) if not name.startswith(".incoming")]


def version_archive(source: Path, kind: str = "tar.gz", top: str | None = None) -> bytes:
    """An archive of the version folder ``source``: at its top, or in folder ``top``."""
    buffer = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in sorted(source.rglob("*")):
                name = str(path.relative_to(source))
                bundle.write(path, f"{top}/{name}" if top else name)
    else:
        mode = "w:gz" if kind == "tar.gz" else "w"
        with tarfile.open(fileobj=buffer, mode=mode) as tar:
            tar.add(source, arcname=top or ".")
    return buffer.getvalue()


def tar_with(*members: tuple[tarfile.TarInfo, bytes | None], base: Path | None = None) -> bytes:
    """A .tar.gz of a real version folder (``base``) plus the given extra members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        if base is not None:
            tar.add(base, arcname=".")
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **fields: object):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    for key, value in fields.items():
        setattr(info, key, value)
    return info, (data if kind == tarfile.REGTYPE else None)
