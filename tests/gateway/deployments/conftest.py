"""Deployment fixtures: one model server per module over a temporary model repository,
reset for every test (files, the server's config, the deployment tables), and users
who may or may not deploy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from google.protobuf import text_format
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from predictions.deployments import reconciler, seeding
from predictions.deployments.models import DeployGrant
from tests.gateway.conftest import make_user
from tests.gateway.deployments import repository as demo
from tests.support.processes import ModelServerProcess, model_server
from tfserving.client import PredictionClient
from tfserving.protos import model_server_config_pb2


@pytest.fixture(scope="module")
def deployment_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deployment")
    demo.fill(root / "repository")
    (root / "models.config").write_text(demo.config_text(root / "repository"))
    return root


@pytest.fixture(scope="module")
def repository_server(deployment_root: Path) -> Iterator[ModelServerProcess]:
    """The embedded model server on the module's repository. It reads the disk once at
    start (--file_system_poll_wait_seconds=0): new versions load on a config reload.
    A failed load is not retried (TF Serving's default retries it for five minutes, while
    which a publish answers 202, still loading)."""
    with model_server(
        args=[
            f"--model_config_file={deployment_root / 'models.config'}",
            "--file_system_poll_wait_seconds=0",
            "--max_num_load_retries=0",
        ],
        log_path=deployment_root / "modelserver.log",
    ) as process:
        yield process


def reload_seed_config(address: str, config_file: Path) -> None:
    config = text_format.Parse(config_file.read_text(), model_server_config_pb2.ModelServerConfig())
    PredictionClient(address, timeout_seconds=30, max_message_bytes=1 << 26).reload_config(config)


@pytest.fixture
def repository(
    deployment_root: Path,
    repository_server: ModelServerProcess,
    settings: Settings,
    db: None,
) -> Iterator[Path]:
    """The repository as at the start (half_plus_two 1, 2 with stable -> 1, canary -> 2;
    newest 1, 2 under latest-1), served as such, and the tables seeded from it."""
    path = deployment_root / "repository"
    demo.fill(path)
    reload_seed_config(repository_server.address, deployment_root / "models.config")
    settings.TFSERVING_ADDRESS = repository_server.address
    settings.MODEL_REPOSITORY = str(path)
    settings.MODEL_SERVER_REPOSITORY = str(path)
    settings.MODEL_CONFIG_FILE = str(deployment_root / "models.config")
    settings.PUBLISH_WAIT_SECONDS = 30.0
    settings.RECONCILE_SECONDS = 0.0
    assert seeding.seed_once() == ["half_plus_two", "newest"]
    yield path
    reconciler.stop()


@pytest.fixture
def deployer(db: None) -> User:
    """May predict with and deploy half_plus_two and newest."""
    user = make_user("deployer", "half_plus_two", "newest")
    for name in ("half_plus_two", "newest"):
        DeployGrant.objects.create(user=user, model_name=name)
    return user


@pytest.fixture
def deployer_client(deployer: User, client_for: Callable[[User], APIClient]) -> APIClient:
    return client_for(deployer)


@pytest.fixture
def predictor_client(db: None, client_for: Callable[[User], APIClient]) -> APIClient:
    """May predict with half_plus_two, not deploy it."""
    return client_for(make_user("predictor", "half_plus_two", "newest"))
