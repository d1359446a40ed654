"""--allow_version_labels_for_unavailable_models, as TF Serving's
ServerCore::UpdateModelVersionLabelMap applies it: with the flag a label that is new (or
keeps its version) may name a version that is not available; moving an existing label to
such a version is refused either way. Without the flag, test_reload_config.py covers the
refusal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

from tests.modelserver.requests import outputs_of, predict_request
from tests.modelserver.test_reload_config import reload_request
from tests.support.processes import model_server

NOT_AVAILABLE = (
    "Request to assign label to version 1 of model half_plus_two, which is not currently "
    "available for inference"
)
# half_plus_two has versions 1 and 2 on disk; the latest policy loads only 2.
LABELLED = """
model_config_list {
  config {
    name: "half_plus_two" base_path: "{models}/half_plus_two"
    %s
  }
}
"""


def labels(**versions: int) -> str:
    return LABELLED % " ".join(
        f'version_labels {{ key: "{label}" value: {version} }}'
        for label, version in versions.items()
    )


@pytest.fixture(scope="module")
def stubs(models_dir: Path) -> Iterator[tuple]:
    args = [
        "--model_name=half_plus_two",
        f"--model_base_path={models_dir / 'half_plus_two'}",
        "--file_system_poll_wait_seconds=0",
        "--allow_version_labels_for_unavailable_models=true",
    ]
    with model_server(args=args) as process, grpc.insecure_channel(process.address) as channel:
        yield (
            prediction_service_pb2_grpc.PredictionServiceStub(channel),
            model_service_pb2_grpc.ModelServiceStub(channel),
        )


def reload(models, text: str, models_dir: Path):
    return models.HandleReloadConfigRequest(reload_request(text, models_dir))


def predict_on(prediction, label: str):
    request = predict_request("half_plus_two", {"x": np.array([2.0], np.float32)}, label=label)
    return list(outputs_of(prediction.Predict(request))["y"])


def test_a_new_label_may_name_a_version_that_is_not_loaded(stubs, models_dir):
    prediction, models = stubs

    response = reload(models, labels(stable=2, next=1), models_dir)

    assert response.status.error_code == 0
    assert predict_on(prediction, "stable") == [4.0]
    # The label exists but its version is not served: TF Serving's answer for that.
    with pytest.raises(grpc.RpcError) as caught:
        predict_on(prediction, "next")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == ("Servable not found for request: Specific(half_plus_two, 1)")


def test_a_label_kept_on_its_unavailable_version_is_accepted_again(stubs, models_dir):
    _, models = stubs
    reload(models, labels(next=1), models_dir)

    response = reload(models, labels(next=1), models_dir)

    assert response.status.error_code == 0


def test_moving_an_existing_label_to_an_unavailable_version_is_refused(stubs, models_dir):
    prediction, models = stubs
    reload(models, labels(stable=2), models_dir)

    with pytest.raises(grpc.RpcError) as caught:
        reload(models, labels(stable=1), models_dir)

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert caught.value.details() == NOT_AVAILABLE
    # The label still points where it did.
    assert predict_on(prediction, "stable") == [4.0]
