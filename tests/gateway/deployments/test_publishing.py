"""Publishing a version: POST /v1/models/{name}/versions with an archive, atomically."""

from __future__ import annotations

import os
import tarfile
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from django.db import OperationalError
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from predictions.deployments.models import DeploymentEvent
from tests.gateway.deployments import repository as demo
from tests.gateway.deployments.calls import IRIS, V1, answers_of, publish
from tests.support.processes import ModelServerProcess, free_port


def test_published_archive_is_served_after_the_reload_without_a_restart(
    repository: Path, deployer_client: APIClient, repository_server: ModelServerProcess
) -> None:
    pid = repository_server.process.pid

    response = publish(deployer_client, demo.version_archive(V1))

    assert response.status_code == 201, response.json()
    assert (response.json()["version"], response.json()["state"]) == (3, "AVAILABLE")
    assert answers_of(deployer_client, "/versions/3") == demo.V1_ANSWERS
    assert repository_server.process.pid == pid and repository_server.process.poll() is None


def test_a_published_version_becomes_the_latest_for_unnamed_requests(
    repository: Path, deployer_client: APIClient
) -> None:
    publish(deployer_client, demo.version_archive(V1))

    assert answers_of(deployer_client) == demo.V1_ANSWERS


@pytest.mark.parametrize(
    ("kind", "top"), [("tar.gz", None), ("tar.gz", "3"), ("tar", None), ("zip", "my-export")]
)
def test_archive_formats_with_or_without_one_top_level_folder_are_accepted(
    repository: Path, deployer_client: APIClient, kind: str, top: str | None
) -> None:
    response = publish(deployer_client, demo.version_archive(V1, kind, top))

    assert response.status_code == 201, response.json()
    assert sorted(os.listdir(repository / "half_plus_two" / "3")) == sorted(os.listdir(V1))


def test_an_explicit_version_number_is_used(repository: Path, deployer_client: APIClient) -> None:
    response = publish(deployer_client, demo.version_archive(V1), version=17)

    assert response.json()["version"] == 17
    assert answers_of(deployer_client, "/versions/17") == demo.V1_ANSWERS


def test_publish_is_recorded_with_who_and_the_archive_digest(
    repository: Path, deployer_client: APIClient
) -> None:
    archive = demo.version_archive(V1)
    publish(deployer_client, archive)

    event = DeploymentEvent.objects.get(kind=DeploymentEvent.PUBLISH)
    assert (event.model_name, event.actor_name) == ("half_plus_two", "deployer")
    assert event.detail["version"] == 3
    assert event.detail["archive_bytes"] == len(archive)
    assert event.before["versions"] == [1, 2]
    assert event.after["versions"] == [1, 2, 3]


def test_waiting_can_be_skipped(repository: Path, deployer_client: APIClient) -> None:
    response = publish(deployer_client, demo.version_archive(V1), wait="false")

    assert response.status_code == 202
    assert response.json()["state"] == "UNKNOWN"


def _zip_with_symlink() -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.write(V1 / "saved_model.pb", "saved_model.pb")
        link = zipfile.ZipInfo("variables")
        link.external_attr = 0o120777 << 16
        bundle.writestr(link, "/etc")
    return buffer.getvalue()


BAD_ARCHIVES = {
    "traversal": (
        lambda: demo.tar_with(demo.member("../evil.txt", data=b"x"), base=V1),
        400,
        "Entry '../evil.txt' leaves the archive's folder (..)",
    ),
    "absolute path": (
        lambda: demo.tar_with(demo.member("/tmp/evil.txt", data=b"x"), base=V1),
        400,
        "Entry '/tmp/evil.txt' has an absolute path",
    ),
    "symbolic link": (
        lambda: demo.tar_with(
            demo.member("evil", tarfile.SYMTYPE, linkname="/etc/passwd"), base=V1
        ),
        400,
        "Entry 'evil' is a link; links are not allowed",
    ),
    "hard link": (
        lambda: demo.tar_with(
            demo.member("evil", tarfile.LNKTYPE, linkname="saved_model.pb"), base=V1
        ),
        400,
        "Entry 'evil' is a link; links are not allowed",
    ),
    "device file": (
        lambda: demo.tar_with(
            demo.member("null", tarfile.CHRTYPE, devmajor=1, devminor=3), base=V1
        ),
        400,
        "Entry 'null' is a device file or FIFO",
    ),
    "zip symbolic link": (
        _zip_with_symlink,
        400,
        "Entry 'variables' is a link; links are not allowed",
    ),
    "no saved_model.pb": (
        lambda: demo.tar_with(demo.member("README.txt", data=b"hello")),
        400,
        "The archive has no saved_model.pb (or saved_model.pbtxt) at its top or in its one "
        "top-level folder",
    ),
    "not an archive": (
        lambda: b"just some bytes, not an archive" * 20,
        400,
        "The upload is not a .tar.gz, .tar or .zip archive",
    ),
    "truncated archive": (
        lambda: demo.version_archive(V1)[:300],
        400,
        "The archive is damaged or truncated",
    ),
    "saved_model.pb is not a SavedModel": (
        lambda: demo.tar_with(demo.member("saved_model.pb", data=b"\xff\xff not a proto")),
        400,
        "saved_model.pb is not a SavedModel",
    ),
    "signatures clients use are missing": (
        lambda: demo.version_archive(IRIS),
        400,
        "Signature 'serving_default' of version 2, which clients use now, takes inputs ['x']; "
        "the new version takes ['petal_length', 'petal_width', 'sepal_length', 'sepal_width']",
    ),
}


@pytest.mark.parametrize("case", BAD_ARCHIVES, ids=str)
def test_a_bad_archive_is_refused_naming_the_problem_and_leaves_the_repository_untouched(
    repository: Path, deployer_client: APIClient, case: str
) -> None:
    make, status, message = BAD_ARCHIVES[case]
    before = demo.served_files(repository)

    response = publish(deployer_client, make())

    assert response.status_code == status
    assert response.json()["error"].startswith(message), response.json()
    assert demo.served_files(repository) == before
    assert list((repository / ".incoming").iterdir()) == []
    assert not DeploymentEvent.objects.filter(kind=DeploymentEvent.PUBLISH).exists()


@pytest.mark.parametrize(
    ("setting", "limit", "message"),
    [
        (
            "PUBLISH_MAX_ARCHIVE_BYTES",
            1000,
            "The archive is larger than 1000 bytes (PUBLISH_MAX_ARCHIVE_BYTES)",
        ),
        (
            "PUBLISH_MAX_UNPACKED_BYTES",
            5000,
            "The archive unpacks to more than 5000 bytes (PUBLISH_MAX_UNPACKED_BYTES)",
        ),
        ("PUBLISH_MAX_FILES", 3, "The archive has more than 3 entries (PUBLISH_MAX_FILES)"),
    ],
)
def test_an_archive_over_a_limit_is_refused_with_413(
    repository: Path,
    deployer_client: APIClient,
    settings: Settings,
    setting: str,
    limit: int,
    message: str,
) -> None:
    setattr(settings, setting, limit)
    before = demo.served_files(repository)

    response = publish(deployer_client, demo.version_archive(V1))

    assert (response.status_code, response.json()["error"]) == (413, message)
    assert demo.served_files(repository) == before
    assert list((repository / ".incoming").iterdir()) == []


def test_a_version_number_in_use_is_refused(repository: Path, deployer_client: APIClient) -> None:
    before = demo.served_files(repository)

    response = publish(deployer_client, demo.version_archive(V1), version=2)

    assert response.status_code == 409
    assert response.json()["error"] == "Version 2 of model half_plus_two exists already"
    assert demo.served_files(repository) == before


def test_a_version_the_model_server_cannot_load_is_taken_out_again(
    repository: Path, deployer_client: APIClient, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes((V1 / "saved_model.pb").read_bytes())  # no variables/
    before = demo.served_files(repository)

    response = publish(deployer_client, demo.version_archive(broken))

    assert response.status_code == 422
    assert response.json()["error"].startswith(
        "Version 3 of model half_plus_two failed to load on the model server, and was taken "
        "out of the repository again: "
    )
    assert demo.served_files(repository) == before
    assert not DeploymentEvent.objects.filter(kind=DeploymentEvent.PUBLISH).exists()


def test_publishing_that_would_unload_a_labelled_version_is_refused(
    repository: Path, deployer_client: APIClient
) -> None:
    deployer_client.put("/v1/models/newest/labels/current", {"version": 2}, format="json")

    response = publish(deployer_client, demo.version_archive(V1), name="newest")

    assert response.status_code == 409
    assert response.json()["error"] == (
        "Publishing version 3 would stop serving version 2 of model newest, which label "
        "current points at; point it elsewhere first"
    )


def test_with_the_model_server_down_a_version_is_published_and_pending(
    repository: Path, deployer_client: APIClient, settings: Settings
) -> None:
    settings.TFSERVING_ADDRESS = f"127.0.0.1:{free_port()}"  # nothing listens there

    response = publish(deployer_client, demo.version_archive(V1))

    assert response.status_code == 202
    body = response.json()
    assert (body["version"], body["state"], body["applied"]) == (3, "UNKNOWN", False)
    assert body["pending"] == [
        "1 model server(s) did not answer; reconciliation pushes the change when they do"
    ]
    assert (repository / "half_plus_two" / "3" / "saved_model.pb").is_file()


def test_with_the_database_down_a_publish_leaves_the_repository_untouched(
    repository: Path, deployer_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = demo.served_files(repository)

    def database_down(*args: object, **kwargs: object) -> None:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(DeploymentEvent.objects, "create", database_down)

    response = publish(deployer_client, demo.version_archive(V1))

    assert (response.status_code, response.json()["error"]) == (
        503,
        "The deployment database is unavailable; retry later",
    )
    assert response["Retry-After"] == "1"
    assert demo.served_files(repository) == before


def test_published_files_are_readable_by_a_model_server_running_as_another_user(
    repository: Path, deployer_client: APIClient
) -> None:
    private = os.umask(0o077)  # as if the gateway's container had a strict umask
    try:
        response = publish(deployer_client, demo.version_archive(V1))
    finally:
        os.umask(private)

    assert response.status_code == 201, response.json()
    version = repository / "half_plus_two" / "3"
    for path in [version, *version.rglob("*")]:
        others_need = 0o005 if path.is_dir() else 0o004  # read, and enter folders
        assert path.stat().st_mode & others_need == others_need, path
