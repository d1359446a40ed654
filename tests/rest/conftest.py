"""REST fixtures: model servers with --rest_api_port, and the gateway in front of them.

The ported TF Serving cases run against two targets with the same expectations: the
model server's own REST port, and the gateway (Django's test client with a JWT)
calling that server over gRPC.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from rest_framework.test import APIClient

from tests.gateway.conftest import access_token, isolated_gateway, make_user
from tests.modelserver.conftest import MODELS_CONFIG
from tests.modelserver.savedmodels import (
    export_examples_model,
    export_half_plus_two,
    export_slow_model,
)
from tests.rest.tf_serving_models import export_tf_serving_half_plus_two
from tests.support.processes import ModelServerProcess, free_port, model_server

__all__ = ["isolated_gateway"]  # the gateway tests' autouse fixture applies here too

# testdata/monitoring_config.txt of TF Serving.
MONITORING_CONFIG = """prometheus_config: {
  enable: true,
  path: "/monitoring/prometheus/metrics"
}
"""
# What TensorflowModelServerTestBase.RunServer passes to every server it starts.
TF_SERVING_TEST_ARGS = (
    "--rest_api_timeout_in_ms=5000",
    "--grpc_channel_arguments=grpc.so_reuseaddr=1",
)
REST_TIMEOUT_MS = 1000
REST_MAX_REQUEST_BYTES = 1024 * 1024


@dataclass(frozen=True)
class RestServer:
    """A model server with both ports: gRPC at ``grpc_address``, REST at ``url``."""

    process: ModelServerProcess
    url: str
    log: Path

    @property
    def grpc_address(self) -> str:
        return self.process.address


@contextlib.contextmanager
def rest_model_server(args: Sequence[str], cwd: Path, log: Path) -> Iterator[RestServer]:
    """``python -m modelserver`` with ``args`` and a REST port (both ports free)."""
    port = free_port()
    with model_server(args=[*args, f"--rest_api_port={port}"], cwd=cwd, log_path=log) as server:
        yield RestServer(server, f"http://127.0.0.1:{port}", log)


@pytest.fixture(scope="session")
def tf_serving_half_plus_two(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TF Serving's saved_model_half_plus_two_cpu. Switch to the shared generator of
    TF-Serving-style test models here once it lands."""
    base = tmp_path_factory.mktemp("tfs") / "saved_model_half_plus_two_cpu"
    export_tf_serving_half_plus_two(base)
    return base


@pytest.fixture(scope="session")
def tf_serving_server(tf_serving_half_plus_two: Path) -> Iterator[RestServer]:
    """RunServer('default', saved_model_half_plus_two_cpu, monitoring_config_file=...)."""
    directory = tf_serving_half_plus_two.parent
    (directory / "monitoring_config.txt").write_text(MONITORING_CONFIG)
    with rest_model_server(
        [
            "--model_name=default",
            f"--model_base_path={tf_serving_half_plus_two}",
            f"--monitoring_config_file={directory / 'monitoring_config.txt'}",
            *TF_SERVING_TEST_ARGS,
        ],
        cwd=directory,
        log=directory / "server.log",
    ) as server:
        yield server


@pytest.fixture(scope="session")
def models_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestServer]:
    """The model server tests' models (half_plus_two 1 and 2 with labels, examples, slow),
    with a short REST timeout, a small body limit, CORS and the Prometheus page."""
    base = tmp_path_factory.mktemp("rest-served")
    export_half_plus_two(base / "half_plus_two", 1)
    export_half_plus_two(base / "half_plus_two", 2)
    export_examples_model(base / "examples")
    export_slow_model(base / "slow")
    (base / "models.config").write_text(MODELS_CONFIG)
    (base / "monitoring.config").write_text(MONITORING_CONFIG)
    with rest_model_server(
        [
            "--model_config_file=models.config",
            "--file_system_poll_wait_seconds=0",
            "--monitoring_config_file=monitoring.config",
            f"--rest_api_timeout_in_ms={REST_TIMEOUT_MS}",
            f"--rest_api_max_request_bytes={REST_MAX_REQUEST_BYTES}",
            "--rest_api_enable_cors_support",
        ],
        cwd=base,
        log=base / "server.log",
    ) as server:
        yield server


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # parsed JSON, or the text of a non-JSON body


class RestTarget:
    """Somewhere to send TF Serving REST requests."""

    name: str

    def post(self, path: str, body: object) -> Answer:
        raise NotImplementedError

    def get(self, path: str) -> Answer:
        raise NotImplementedError


class ModelServerRest(RestTarget):
    name = "model_server"

    def __init__(self, url: str) -> None:
        self._client = httpx.Client(base_url=url, timeout=60)

    def post(self, path: str, body: object) -> Answer:
        return _answer(self._client.post(path, json=body))

    def get(self, path: str) -> Answer:
        return _answer(self._client.get(path))


class GatewayRest(RestTarget):
    name = "gateway"

    def __init__(self, client: APIClient) -> None:
        self._client = client

    def post(self, path: str, body: object) -> Answer:
        return _answer(self._client.post(path, body, format="json"))

    def get(self, path: str) -> Answer:
        return _answer(self._client.get(path))


def _answer(response: Any) -> Answer:
    content_type = response.headers.get("Content-Type", "")
    if content_type.startswith("application/json"):
        return Answer(response.status_code, response.json())
    text = response.text if hasattr(response, "text") else response.content.decode()
    return Answer(response.status_code, text)


def gateway_target(request: pytest.FixtureRequest, server: RestServer, model: str) -> GatewayRest:
    """The gateway, pointed at ``server``, with a token for a user granted ``model`` (the
    test must be marked django_db)."""
    settings = request.getfixturevalue("settings")
    settings.TFSERVING_ADDRESS = server.grpc_address
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(make_user('caller', model))}")
    return GatewayRest(client)


@pytest.fixture(params=["model_server", "gateway"])
def tf_serving_rest(request: pytest.FixtureRequest, tf_serving_server: RestServer) -> RestTarget:
    """TF Serving's REST API for model "default": the model server's port, or the gateway."""
    if request.param == "model_server":
        return ModelServerRest(tf_serving_server.url)
    return gateway_target(request, tf_serving_server, "default")


@pytest.fixture
def gateway_rest(request: pytest.FixtureRequest, tf_serving_server: RestServer) -> RestTarget:
    """The gateway alone, in front of the TF Serving test model's server."""
    return gateway_target(request, tf_serving_server, "default")
