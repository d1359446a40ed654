"""The deployment files, parsed once per session for the static checks."""

from __future__ import annotations

import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = ROOT / "deploy" / "k8s"
# Console scripts of the checkers (pip-installed from requirements-dev.txt) live next to
# the running interpreter.
SCRIPTS_DIR = Path(sysconfig.get_path("scripts"))


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def kubernetes_manifest_paths() -> list[Path]:
    return sorted(p for p in K8S_DIR.glob("*.yaml") if p.name != "kustomization.yaml")


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="session")
def kubernetes_resources() -> dict[str, dict[str, Any]]:
    """Every resource in deploy/k8s, keyed "kind/name"."""
    resources = {}
    for path in kubernetes_manifest_paths():
        for document in load_yaml_documents(path):
            resources[f"{document['kind']}/{document['metadata']['name']}"] = document
    return resources
