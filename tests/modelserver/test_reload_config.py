"""ModelService.HandleReloadConfigRequest: switch the served models without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from google.protobuf import text_format
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

from tests.modelserver.requests import outputs_of, predict_request, status_request
from tests.support.processes import model_server

State = get_model_status_pb2.ModelVersionStatus.State


def reload_request(text: str, models_dir: Path) -> model_management_pb2.ReloadConfigRequest:
    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse(text.replace("{models}", str(models_dir)), config)
    return model_management_pb2.ReloadConfigRequest(config=config)


@pytest.fixture(scope="module")
def stubs(models_dir: Path) -> Iterator[tuple]:
    args = [
        "--model_name=half_plus_two",
        f"--model_base_path={models_dir / 'half_plus_two'}",
        "--file_system_poll_wait_seconds=0",
    ]
    with model_server(args=args) as process, grpc.insecure_channel(process.address) as channel:
        yield (
            prediction_service_pb2_grpc.PredictionServiceStub(channel),
            model_service_pb2_grpc.ModelServiceStub(channel),
        )


def test_reload_adds_models_policies_and_labels(stubs, models_dir):
    prediction, models = stubs
    request = reload_request(
        """
        model_config_list {
          config {
            name: "half_plus_two" base_path: "{models}/half_plus_two"
            model_version_policy { all {} }
            version_labels { key: "stable" value: 1 }
          }
          config { name: "examples" base_path: "{models}/examples" }
        }
        """,
        models_dir,
    )

    response = models.HandleReloadConfigRequest(request)

    assert response.status.error_code == 0
    stable = predict_request("half_plus_two", {"x": np.array([2.0], np.float32)}, label="stable")
    assert list(outputs_of(prediction.Predict(stable))["y"]) == [3.0]
    added = predict_request("examples", {"a": [1.0], "b": [2.0]}, output_filter=["sum"])
    assert list(outputs_of(prediction.Predict(added))["sum"]) == [3.0]


def test_reload_without_a_model_unloads_it(stubs, models_dir):
    prediction, models = stubs
    models.HandleReloadConfigRequest(
        reload_request(
            'model_config_list { config { name: "examples" base_path: "{models}/examples" } }',
            models_dir,
        )
    )

    models.HandleReloadConfigRequest(
        reload_request(
            'model_config_list { config { name: "half_plus_two" '
            'base_path: "{models}/half_plus_two" } }',
            models_dir,
        )
    )

    status = models.GetModelStatus(status_request("examples")).model_version_status
    assert [(s.version, s.state) for s in status] == [(1, State.END)]
    with pytest.raises(grpc.RpcError) as caught:
        prediction.Predict(predict_request("examples", {"a": [1.0], "b": [2.0]}))
    assert caught.value.details() == "Servable not found for request: Latest(examples)"


def test_label_on_a_version_that_is_not_loaded_is_refused(stubs, models_dir):
    _, models = stubs
    request = reload_request(
        """
        model_config_list {
          config {
            name: "half_plus_two" base_path: "{models}/half_plus_two"
            version_labels { key: "stable" value: 1 }
          }
        }
        """,
        models_dir,
    )

    with pytest.raises(grpc.RpcError) as caught:
        models.HandleReloadConfigRequest(request)

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert caught.value.details() == (
        "Request to assign label to version 1 of model half_plus_two, which is not currently "
        "available for inference"
    )


def test_only_model_config_lists_can_be_reloaded(stubs):
    _, models = stubs
    request = model_management_pb2.ReloadConfigRequest()
    request.config.custom_model_config.Pack(model_server_config_pb2.ModelConfig())

    with pytest.raises(grpc.RpcError) as caught:
        models.HandleReloadConfigRequest(request)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == (
        "ServerModelConfig type not supported by HandleReloadConfigRequest. "
        "Only ModelConfigList is currently supported"
    )
