"""Model server fixtures: test SavedModels exported once, one shared server over them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

from tests.modelserver.savedmodels import (
    export_examples_model,
    export_half_plus_two,
    export_slow_model,
)
from tests.support.processes import ModelServerProcess, model_server

# Relative base paths: the server resolves them against its working directory.
MODELS_CONFIG = """
model_config_list {
  config {
    name: "half_plus_two"
    base_path: "half_plus_two"
    model_platform: "tensorflow"
    model_version_policy { all {} }
    version_labels { key: "stable" value: 1 }
    version_labels { key: "canary" value: 2 }
  }
  config { name: "examples" base_path: "examples" model_platform: "tensorflow" }
  config { name: "slow" base_path: "slow" model_platform: "tensorflow" }
}
"""


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("served")
    export_half_plus_two(base / "half_plus_two", 1)
    export_half_plus_two(base / "half_plus_two", 2)
    export_examples_model(base / "examples")
    export_slow_model(base / "slow")
    (base / "models.config").write_text(MODELS_CONFIG)
    return base


@pytest.fixture(scope="session")
def server(models_dir: Path) -> Iterator[ModelServerProcess]:
    with model_server(
        args=["--model_config_file=models.config", "--file_system_poll_wait_seconds=0"],
        cwd=models_dir,
        log_path=models_dir / "server.log",
    ) as process:
        yield process


@pytest.fixture(scope="session")
def channel(server: ModelServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.address) as opened:
        yield opened


@pytest.fixture(scope="session")
def prediction(channel: grpc.Channel) -> prediction_service_pb2_grpc.PredictionServiceStub:
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


@pytest.fixture(scope="session")
def models(channel: grpc.Channel) -> model_service_pb2_grpc.ModelServiceStub:
    return model_service_pb2_grpc.ModelServiceStub(channel)
