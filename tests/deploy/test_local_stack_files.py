"""The files of the local compose run, checked without Docker.

deploy/compose.local.yml may only swap images (what runs is the production wiring),
and the stand-ins must never pass for the images they replace. The real run is
test_compose_stack.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import ROOT
from tests.deploy.test_gateway_image import (
    copied_python_packages,
    not_provided_by,
    project_packages,
    python_files,
    requirement_pins,
    top_level_modules,
)
from tests.deploy.test_static_checks import check_compose

LOCAL_OVERRIDE = ROOT / "deploy" / "compose.local.yml"
LOCAL_IMAGES_SCRIPT = ROOT / "deploy" / "local-images.sh"
LOCAL_BASE = "stand-in/python:3.11-bookworm"


@pytest.fixture(scope="module")
def override() -> dict[str, Any]:
    return yaml.safe_load(LOCAL_OVERRIDE.read_text())


def repository(image: str) -> str:
    return image.rsplit(":", 1)[0]


def test_local_override_validates_against_the_compose_specification() -> None:
    result = check_compose(LOCAL_OVERRIDE)

    assert result.returncode == 0, result.stdout + result.stderr


def test_local_override_swaps_the_image_of_every_service_and_nothing_else(
    override: dict[str, Any], compose: dict[str, Any]
) -> None:
    assert set(override) == {"services"}
    assert set(override["services"]) == set(compose["services"])
    for name, service in override["services"].items():
        built = "build" in compose["services"][name]
        assert set(service) == ({"image", "build"} if built else {"image"}), name
        if built:
            assert service["build"] == {"args": {"PYTHON_IMAGE": LOCAL_BASE}}, name


def test_local_override_uses_the_images_local_images_sh_builds(
    override: dict[str, Any],
) -> None:
    script = LOCAL_IMAGES_SCRIPT.read_text()
    built = dict(re.findall(r"^([A-Z]+_IMAGE)=(\S+)$", script, flags=re.MULTILINE))
    used = {service["image"] for service in override["services"].values()}

    assert built.pop("BASE_IMAGE") == LOCAL_BASE
    assert used == set(built.values())


def test_no_local_image_takes_the_name_of_the_image_it_replaces(
    override: dict[str, Any], compose: dict[str, Any]
) -> None:
    for name, service in override["services"].items():
        production = compose["services"][name]["image"]
        if "build" in compose["services"][name]:
            # The project's own image, on the stand-in base: its own tag.
            assert service["image"] == f"{repository(production)}:stand-in-base", name
        else:
            assert repository(service["image"]) != repository(production), name
            assert service["image"].startswith("stand-in/"), name


def test_model_server_stand_in_pins_the_versions_of_requirements_txt() -> None:
    project = requirement_pins(ROOT / "requirements.txt")
    stand_in = requirement_pins(ROOT / "deploy" / "stand-ins" / "modelserver" / "requirements.txt")

    for name in set(project) & set(stand_in):
        assert stand_in[name] == project[name], name
    assert {"tensorflow", "tensorflow-serving-api", "grpcio-health-checking"} <= set(stand_in)


STAND_IN_DOCKERFILE = ROOT / "deploy" / "stand-ins" / "modelserver" / "Dockerfile"


def test_the_model_server_stand_in_copies_every_project_package_it_imports() -> None:
    copied = copied_python_packages(STAND_IN_DOCKERFILE)
    imported = top_level_modules(python_files(copied)) & project_packages()
    script = (ROOT / "deploy" / "local-images.sh").read_text()

    assert "modelserver" in copied
    assert imported - set(copied) == set()
    assert "modelserver modelserver " + " ".join(sorted(set(copied) - {"modelserver"})) in script


def test_every_package_modelserver_imports_is_installed_in_its_stand_in() -> None:
    stand_in = requirement_pins(ROOT / "deploy" / "stand-ins" / "modelserver" / "requirements.txt")
    files = python_files(copied_python_packages(STAND_IN_DOCKERFILE))

    assert not_provided_by(top_level_modules(files), set(stand_in)) == set()
