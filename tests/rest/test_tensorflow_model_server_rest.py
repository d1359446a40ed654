"""TF Serving's REST cases (model_servers/tensorflow_model_server_test.py), ported.

Each runs as TF Serving runs it, with its model (saved_model_half_plus_two_cpu as
model "default", version 123) and its expected values, against the model server's
REST port and, with a token, against the gateway in front of that server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from tests.rest.conftest import (
    TF_SERVING_TEST_ARGS,
    ModelServerRest,
    RestServer,
    RestTarget,
    rest_model_server,
)

pytestmark = pytest.mark.django_db


def sorted_object(value: object) -> object:
    """TensorflowModelServerTestBase.SortedObject: order-free comparison of JSON."""
    if isinstance(value, dict):
        return sorted((key, sorted_object(item)) for key, item in value.items())
    if isinstance(value, list | tuple):
        return sorted(sorted_object(item) for item in value)
    return value


def _dims(*sizes: int) -> dict:
    return {"dim": [{"size": str(size), "name": ""} for size in sizes], "unknown_rank": False}


def _tensor(name: str, dtype: str, shape: dict) -> dict:
    return {"dtype": dtype, "tensor_shape": shape, "name": name}


_STRING_EXAMPLES = _tensor("tf_example:0", "DT_STRING", {"dim": [], "unknown_rank": True})


def _signature(inputs: dict, outputs: dict, method: str) -> dict:
    return {"inputs": inputs, "outputs": outputs, "method_name": method, "defaults": {}}


# testdata/half_plus_two_model_metadata.json.
HALF_PLUS_TWO_METADATA = {
    "model_spec": {"name": "default", "signature_name": "", "version": "123"},
    "metadata": {
        "signature_def": {
            "signature_def": {
                "regress_x2_to_y3": _signature(
                    {"inputs": _tensor("x2:0", "DT_FLOAT", _dims(-1, 1))},
                    {"outputs": _tensor("y3:0", "DT_FLOAT", _dims(-1, 1))},
                    "tensorflow/serving/regress",
                ),
                "serving_default": _signature(
                    {"x": _tensor("x:0", "DT_FLOAT", _dims(-1, 1))},
                    {"y": _tensor("y:0", "DT_FLOAT", _dims(-1, 1))},
                    "tensorflow/serving/predict",
                ),
                "classify_x_to_y": _signature(
                    {"inputs": _STRING_EXAMPLES},
                    {"scores": _tensor("y:0", "DT_FLOAT", _dims(-1, 1))},
                    "tensorflow/serving/classify",
                ),
                "regress_x_to_y2": _signature(
                    {"inputs": _STRING_EXAMPLES},
                    {"outputs": _tensor("y2:0", "DT_FLOAT", _dims(-1, 1))},
                    "tensorflow/serving/regress",
                ),
                "regress_x_to_y": _signature(
                    {"inputs": _STRING_EXAMPLES},
                    {"outputs": _tensor("y:0", "DT_FLOAT", _dims(-1, 1))},
                    "tensorflow/serving/regress",
                ),
            }
        }
    },
}


def test_classify_rest(tf_serving_rest: RestTarget):
    answer = tf_serving_rest.post(
        "/v1/models/default:classify",
        {"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}]},
    )

    assert answer.body == {"results": [[["", 3.0]]]}


def test_regress_rest(tf_serving_rest: RestTarget):
    answer = tf_serving_rest.post(
        "/v1/models/default:regress",
        {"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]},
    )

    assert answer.body == {"results": [3.0]}


def test_predict_rest(tf_serving_rest: RestTarget):
    answer = tf_serving_rest.post("/v1/models/default:predict", {"instances": [2.0, 3.0, 4.0]})

    assert answer.body == {"predictions": [3.0, 3.5, 4.0]}


def test_predict_columnar_rest(tf_serving_rest: RestTarget):
    answer = tf_serving_rest.post("/v1/models/default:predict", {"inputs": [2.0, 3.0, 4.0]})

    assert answer.body == {"outputs": [3.0, 3.5, 4.0]}


def test_get_status_rest(tf_serving_rest: RestTarget):
    answer = tf_serving_rest.get("/v1/models/default")

    assert answer.body == {
        "model_version_status": [
            {
                "version": "123",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }


def test_get_model_metadata_rest(tf_serving_rest: RestTarget):
    answer = tf_serving_rest.get("/v1/models/default/metadata")

    assert sorted_object(answer.body) == sorted_object(HALF_PLUS_TWO_METADATA)


def test_prometheus_endpoint(tf_serving_server: RestServer):
    answer = ModelServerRest(tf_serving_server.url).get("/monitoring/prometheus/metrics")

    assert answer.status == 200
    assert "# TYPE" in answer.body


def test_prometheus_endpoint_of_the_gateway_is_metrics(gateway_rest: RestTarget):
    # The gateway's own Prometheus page is /metrics (open to 127.0.0.1 locally).
    answer = gateway_rest.get("/metrics")

    assert answer.status == 200
    assert "# TYPE" in answer.body


# The request VerifyPredictRequest sends: x = [2.0] (shape [1]), expecting y = 3.0.
def verify_predict_request(address: str, *, batch_input: bool) -> predict_pb2.PredictResponse:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "default"
    request.model_spec.signature_name = "serving_default"
    request.inputs["x"].dtype = types_pb2.DT_FLOAT
    request.inputs["x"].float_val.append(2.0)
    request.inputs["x"].tensor_shape.dim.add().size = 1
    if batch_input:
        request.inputs["x"].tensor_shape.dim.add().size = 1
    request.output_filter.append("y")
    with grpc.insecure_channel(address) as channel:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, 5.0)


@pytest.fixture(scope="module")
def channel_args_server(tf_serving_half_plus_two: Path) -> Iterator[RestServer]:
    arguments = "grpc.max_connection_age_ms=2000,grpc.lb_policy_name=grpclb,grpc.so_reuseaddr=1"
    directory = tf_serving_half_plus_two.parent
    with rest_model_server(
        [
            "--model_name=default",
            f"--model_base_path={tf_serving_half_plus_two}",
            TF_SERVING_TEST_ARGS[0],
            f"--grpc_channel_arguments={arguments}",
        ],
        cwd=directory,
        log=directory / "channel-args-server.log",
    ) as server:
        yield server


def test_good_grpc_channel_args(channel_args_server: RestServer):
    response = verify_predict_request(channel_args_server.grpc_address, batch_input=False)

    assert list(response.outputs["y"].float_val) == [3.0]
    assert response.model_spec.version.value == 123


def test_good_grpc_channel_args_with_a_batch_input(channel_args_server: RestServer):
    # The same server and request with x shaped [1,1], as the signature declares it.
    response = verify_predict_request(channel_args_server.grpc_address, batch_input=True)

    assert list(response.outputs["y"].float_val) == [3.0]
    assert response.model_spec.signature_name == "serving_default"
    assert response.model_spec.version.value == 123


def test_the_gateway_answers_tf_servings_hello_world_as_the_model_server_does(
    gateway_rest: RestTarget, tf_serving_server: RestServer
):
    """Never stricter: whatever the model server answers (today its shape check's 400),
    the gateway answers the same instead of refusing the request itself."""
    body = {"instances": [2.0, 3.0, 4.0]}
    direct = ModelServerRest(tf_serving_server.url).post("/v1/models/default:predict", body)

    through_gateway = gateway_rest.post("/v1/models/default:predict", body)

    assert through_gateway.status == direct.status
    # The gateway's errors add a machine-readable "code" to TF Serving's {"error": ...}.
    assert {k: v for k, v in through_gateway.body.items() if k != "code"} == direct.body
