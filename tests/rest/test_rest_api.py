"""The model server's REST port answers as TF Serving's: routes, versions and labels, status
codes and {"error": ...} bodies (http_rest_api_handler.cc, http_rest_api_util.cc,
http_server.cc), on the model server tests' models."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import grpc
import httpx
import numpy as np
import pytest
from tensorflow_serving.apis import prediction_service_pb2_grpc

from tests.modelserver.requests import predict_request
from tests.rest.conftest import REST_MAX_REQUEST_BYTES, RestServer


@pytest.fixture(scope="module")
def rest(models_server: RestServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=models_server.url, timeout=60) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/models/half_plus_two:predict", [3.5, 4.0, 5.5]),
        ("/v1/models/half_plus_two/versions/1:predict", [2.5, 3.0, 4.5]),
        ("/v1/models/half_plus_two/labels/stable:predict", [2.5, 3.0, 4.5]),
        ("/v1/models/half_plus_two/labels/canary:predict", [3.5, 4.0, 5.5]),
    ],
)
def test_predict_addresses_the_latest_version_a_version_or_a_label(rest, path, expected):
    response = rest.post(path, json={"instances": [1.0, 2.0, 5.0]})

    assert (response.status_code, response.json()) == (200, {"predictions": expected})
    assert response.headers["content-type"] == "application/json"


def test_columnar_predict_with_several_inputs_and_outputs(rest):
    response = rest.post(
        "/v1/models/examples:predict", json={"inputs": {"a": [1.0, 2.0], "b": [3.0, 4.0]}}
    )

    assert response.json() == {"outputs": {"product": [3.0, 8.0], "sum": [4.0, 6.0]}}


def test_row_predict_with_several_outputs_gives_one_object_per_instance(rest):
    response = rest.post("/v1/models/examples:predict", json={"instances": [{"a": 1.0, "b": 3.0}]})

    assert response.json() == {"predictions": [{"product": 3.0, "sum": 4.0}]}


def test_classify_and_regress_take_examples_and_a_context(rest):
    classified = rest.post(
        "/v1/models/examples:classify",
        json={"signature_name": "classification", "examples": [{"a": 0.0}]},
    )
    regressed = rest.post(
        "/v1/models/examples:regress",
        json={"signature_name": "regression", "context": {"b": 1.0}, "examples": [{"a": 2.0}]},
    )

    assert classified.json() == {"results": [[["low", 0.5], ["high", 0.5]]]}
    assert regressed.json() == {"results": [4.0]}


def test_status_of_one_version_and_of_a_label_as_tf_serving_reports_them(rest):
    one = rest.get("/v1/models/half_plus_two/versions/1").json()
    # GetModelStatus ignores labels: every version.
    labelled = rest.get("/v1/models/half_plus_two/labels/stable").json()

    available = {"state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
    assert one == {"model_version_status": [{"version": "1", **available}]}
    assert [status["version"] for status in labelled["model_version_status"]] == ["1", "2"]


def test_metadata_of_a_label_names_its_version(rest):
    body = rest.get("/v1/models/half_plus_two/labels/stable/metadata").json()

    assert body["model_spec"] == {"name": "half_plus_two", "version": "1", "signature_name": ""}
    assert "serving_default" in body["metadata"]["signature_def"]["signature_def"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("POST", "/v1/models/nope:predict", b'{"instances": [1]}', 404,
         "Servable not found for request: Latest(nope)"),
        ("POST", "/v1/models/half_plus_two/versions/9:predict", b'{"instances": [1]}', 404,
         "Servable not found for request: Specific(half_plus_two, 9)"),
        ("POST", "/v1/models/half_plus_two/labels/nightly:predict", b'{"instances": [1]}', 400,
         "Unrecognized servable version label: nightly"),
        ("GET", "/v1/models/nope", b"", 404, "Could not find any versions of model nope"),
        ("GET", "/v1/models/half_plus_two/versions/9", b"", 404,
         "Could not find version 9 of model half_plus_two"),
        ("GET", "/v1/models/nope/metadata", b"", 404,
         "Servable not found for request: Latest(nope)"),
        ("GET", "/v1/models", b"", 400, "Missing model name in request."),
        ("POST", "/v1/models/half_plus_two:explain", b"{}", 400,
         "Malformed request: POST /v1/models/half_plus_two:explain"),
        ("POST", "/v1/models/half_plus_two:PREDICT", b"{}", 400,
         "Malformed request: POST /v1/models/half_plus_two:PREDICT"),
        ("PUT", "/v1/models/half_plus_two", b"", 400,
         "Malformed request: PUT /v1/models/half_plus_two"),
        ("GET", "/v1/models/half_plus_two/versions/99999999999999999999", b"", 400,
         "Failed to convert version: 99999999999999999999 to numeric."),
        ("POST", "/v1/models/half_plus_two:predict", b"", 400,
         "JSON Parse error: The document is empty"),
        ("POST", "/v1/models/half_plus_two:predict", b"[1.0]", 400,
         "JSON Value: [1.0] Is not object"),
        ("POST", "/v1/models/half_plus_two:predict",
         b'{"signature_name": "nope", "instances": [1]}', 400,
         'Serving signature name: "nope" not found in signature def'),
        ("POST", "/v1/models/half_plus_two:predict", b'{"instances": ["a"]}', 400,
         "Input 'x' expects float tensor of shape [-1]; instances[0]: JSON Value: \"a\" Type: "
         "String is not of expected type: float"),
        ("POST", "/v1/models/examples:classify", b'{"signature_name": "classification"}', 400,
         "When method is classify or regress, key 'examples' is expected and was not found"),
        ("POST", "/v1/models/half_plus_two:predict",
         b'{"instances": [' + b",".join([b"1.0"] * 1001) + b"]}", 400,
         "Task size 1001 is larger than maximum input batch size 1000"),
        ("POST", "/v1/models/half_plus_two:predict",
         b'{"instances": ' + b"[" * 40 + b"1.0" + b"]" * 40 + b"}", 400,
         "JSON body is nested more than 32 levels deep"),
    ],
)  # fmt: skip
def test_errors_have_tf_servings_status_code_and_message(rest, method, path, body, status, error):
    response = rest.request(method, path, content=body)

    assert (response.status_code, response.json()) == (status, {"error": error})


def test_a_failure_in_the_graph_passes_the_model_servers_status_through(rest, models_server):
    request = predict_request("examples", {"x": np.array([-1.0], np.float32)}, signature="root")
    with (
        grpc.insecure_channel(models_server.grpc_address) as channel,
        pytest.raises(grpc.RpcError) as direct,
    ):
        prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request)

    response = rest.post(
        "/v1/models/examples:predict", json={"signature_name": "root", "instances": [-1.0]}
    )

    assert direct.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (response.status_code, response.json()) == (400, {"error": direct.value.details()})


def test_a_call_longer_than_rest_api_timeout_in_ms_gets_504(rest):
    response = rest.post("/v1/models/slow:predict", json={"instances": [2.0]})

    assert (response.status_code, response.json()) == (
        504,
        {"error": "Timed out waiting for notification"},
    )


def test_a_body_over_the_limit_gets_413(rest):
    body = b" " * (REST_MAX_REQUEST_BYTES + 1)

    response = rest.post("/v1/models/half_plus_two:predict", content=body)

    assert response.status_code == 413


def test_other_paths_are_not_found(rest):
    response = rest.get("/v2/models/half_plus_two")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


def test_answers_carry_cors_headers_when_enabled(rest):
    response = rest.get("/v1/models/half_plus_two")

    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "POST, GET"
    assert response.headers["access-control-allow-headers"] == "Content-Type"


def test_a_cors_preflight_needs_an_origin(rest):
    allowed = rest.options("/v1/models/half_plus_two:predict", headers={"Origin": "https://a.b"})
    refused = rest.options("/v1/models/half_plus_two:predict")

    assert (allowed.status_code, allowed.content) == (200, b"")
    assert allowed.headers["access-control-allow-origin"] == "*"
    assert (refused.status_code, refused.content) == (400, b"")


def can_connect(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(5)
        return sock.connect_ex((host, port)) == 0


def test_the_rest_port_listens_on_loopback_only_by_default(models_server):
    port = int(models_server.url.rsplit(":", 1)[1])

    assert can_connect("127.0.0.1", port)
    assert not can_connect("127.0.0.2", port)
