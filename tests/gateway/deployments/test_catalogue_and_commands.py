"""Once seeded, the deployment tables are the catalogue (GET /v1/models, /readyz); the
management commands publish, add, remove and reconcile like the API."""

from __future__ import annotations

import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from predictions.deployments import services
from predictions.deployments.models import DeploymentEvent, ServedModel
from predictions.inference.catalogue import catalogue_model_names
from tests.gateway.deployments import repository as demo
from tests.gateway.deployments.calls import V1


def test_the_catalogue_is_the_deployment_tables_once_they_are_seeded(repository: Path) -> None:
    assert catalogue_model_names() == ("half_plus_two", "newest")

    services.remove_model(None, "newest")

    assert catalogue_model_names() == ("half_plus_two",)


def test_readiness_follows_a_removed_model(repository: Path, client, settings) -> None:
    services.remove_model(None, "newest")
    settings.METRICS_TOKEN = "readiness-detail"  # the per-model detail is the operator's

    readiness = client.get("/readyz", HTTP_AUTHORIZATION="Bearer readiness-detail").json()

    assert readiness["models"] == {"half_plus_two": "AVAILABLE"}
    assert readiness["status"] == "ready"


def test_an_added_model_is_served_from_the_repository(repository: Path) -> None:
    shutil.copytree(V1, repository / "third" / "1")

    result = services.add_model(None, "third")

    assert result.applied, result.pending
    assert ServedModel.objects.get(name="third").base_path == str(repository / "third")
    assert catalogue_model_names() == ("half_plus_two", "newest", "third")


def test_publish_model_publishes_a_version_folder(
    repository: Path, deployer_client: APIClient
) -> None:
    out = StringIO()

    call_command(
        "publish_model", str(V1), "--model", "half_plus_two", "--user", "deployer", stdout=out
    )

    assert "half_plus_two: published version 3" in out.getvalue()
    assert "version 3: AVAILABLE" in out.getvalue()
    assert DeploymentEvent.objects.get(kind="publish").actor_name == "deployer"
    answer = deployer_client.post(
        "/v1/models/half_plus_two/versions/3:predict", demo.BODY, format="json"
    )
    assert answer.json() == {"predictions": demo.V1_ANSWERS}


def test_publish_model_takes_an_archive_and_a_version(repository: Path, tmp_path: Path) -> None:
    archive = tmp_path / "v.zip"
    archive.write_bytes(demo.version_archive(V1, "zip"))

    call_command(
        "publish_model", str(archive), "--model", "newest", "--version", "9", stdout=StringIO()
    )

    assert (repository / "newest" / "9" / "saved_model.pb").is_file()


def test_publish_model_reports_a_refused_archive(repository: Path, tmp_path: Path) -> None:
    archive = tmp_path / "v.tar.gz"
    archive.write_bytes(b"not an archive" * 40)

    with pytest.raises(
        CommandError, match=r"The upload is not a \.tar\.gz, \.tar or \.zip archive"
    ):
        call_command("publish_model", str(archive), "--model", "half_plus_two")


def test_add_and_remove_model_commands_record_their_changes(repository: Path) -> None:
    shutil.copytree(V1, repository / "third" / "5")

    call_command("add_model", "third", "--policy", "specific:5", stdout=StringIO())
    call_command("remove_model", "third", stdout=StringIO())

    assert list(
        DeploymentEvent.objects.filter(model_name="third").values_list("kind", "summary")
    ) == [("remove_model", "removed"), ("add_model", "added, serving versions 5")]


def test_reconcile_models_prints_each_server(repository: Path, repository_server) -> None:
    out = StringIO()

    call_command("reconcile_models", stdout=out)

    assert out.getvalue() == f"{repository_server.address}: in step\n"
