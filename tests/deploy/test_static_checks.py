"""The deployment files pass the checkers their ecosystems use, offline.

No Docker engine or cluster is needed: the compose file is validated against the
Compose specification's JSON schema, the Dockerfiles with hadolint, and the Kubernetes
manifests against the Kubernetes OpenAPI schemas shipped by kubernetes-validate. Each
checker is also shown rejecting a broken copy, so a passing run means something.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from tests.deploy.conftest import (
    ROOT,
    SCRIPTS_DIR,
    kubernetes_manifest_paths,
    load_yaml_documents,
)

# The oldest Kubernetes minor still supported by the major managed offerings, and the
# newest the validator ships: the manifests must be valid on both.
KUBERNETES_VERSIONS = ("1.31.0", kubernetes_validate.utils.latest_version())
DOCKERFILES = (
    ROOT / "Dockerfile",
    ROOT / "deploy" / "models-image" / "Dockerfile",
    ROOT / "deploy" / "proxy" / "Dockerfile",
)
# The stand-ins for registry images (deploy/local-images.sh) install whatever bookworm
# currently ships of a package, as the images they stand in for track their upstream:
# a pinned Debian version disappears from the mirror at its next security update.
# DL3008: pin apt versions. DL3066: numeric USER (the Debian packages create postgres
# and redis with whatever system uid is free).
STAND_IN_DOCKERFILES = sorted((ROOT / "deploy" / "stand-ins").glob("*/Dockerfile"))
STAND_IN_HADOLINT_IGNORES = ("DL3008", "DL3066")


def check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    checker = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
    return subprocess.run(
        [*checker, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def hadolint(path: Path, ignores: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    ignored = [argument for rule in ignores for argument in ("--ignore", rule)]
    return subprocess.run(
        [str(SCRIPTS_DIR / "hadolint"), "--no-color", *ignored, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_compose_file_validates_against_the_compose_specification() -> None:
    result = check_compose(ROOT / "docker-compose.yml")

    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_check_rejects_a_misspelt_service_key(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    text = (ROOT / "docker-compose.yml").read_text()
    broken.write_text(text.replace("    healthcheck:", "    helthcheck:", 1))

    result = check_compose(broken)

    assert result.returncode == 1
    assert "'helthcheck' was unexpected" in result.stdout


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfile_passes_hadolint_without_ignores(dockerfile: Path) -> None:
    result = hadolint(dockerfile)

    assert (result.returncode, result.stdout) == (0, ""), result.stdout + result.stderr
    assert "hadolint ignore" not in dockerfile.read_text()


@pytest.mark.parametrize("dockerfile", STAND_IN_DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_stand_in_dockerfile_passes_hadolint_but_for_debian_package_pins(
    dockerfile: Path,
) -> None:
    result = hadolint(dockerfile, STAND_IN_HADOLINT_IGNORES)

    assert (result.returncode, result.stdout) == (0, ""), result.stdout + result.stderr


def test_hadolint_rejects_an_unpinned_pip_install(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    text = (ROOT / "Dockerfile").read_text()
    broken.write_text(
        text.replace("USER 10001:10001", "RUN pip install requests\nUSER 10001:10001")
    )

    result = hadolint(broken)

    assert result.returncode == 1
    assert "DL3013" in result.stdout  # "Pin versions in pip"


def kubernetes_cases() -> list[Any]:
    cases = []
    for path in kubernetes_manifest_paths():
        for document in load_yaml_documents(path):
            for version in KUBERNETES_VERSIONS:
                name = f"{path.name}:{document['kind']}/{document['metadata']['name']}@{version}"
                cases.append(pytest.param(document, version, id=name))
    return cases


@pytest.mark.parametrize(("resource", "version"), kubernetes_cases())
def test_kubernetes_manifest_validates_strictly_offline(resource: dict, version: str) -> None:
    validated = kubernetes_validate.validate(resource, version, strict=True)

    assert validated == kubernetes_validate.utils.major_minor(version)


def test_kubernetes_validation_rejects_a_misspelt_probe(
    kubernetes_resources: dict[str, dict[str, Any]],
) -> None:
    broken = copy.deepcopy(kubernetes_resources["Deployment/gateway"])
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")

    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)
