"""Every kind of bad request gets a clear {"error", "code"} answer, never a traceback."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from django.core.signals import got_request_exception
from rest_framework.test import APIClient

from predictions.inference import services
from tests.gateway.direct import direct_predict
from tfserving.errors import client_message, http_status_for

pytestmark = pytest.mark.django_db


def post_raw(client: APIClient, path: str, body: bytes):
    return client.post(path, data=body, content_type="application/json")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v1/models/nope:predict", "Servable not found for request: Latest(nope)"),
        (
            "/v1/models/half_plus_two/versions/9:predict",
            "Servable not found for request: Specific(half_plus_two, 9)",
        ),
        (
            "/v1/models/half_plus_two/labels/nightly:predict",
            "Unrecognized servable version label: nightly",
        ),
    ],
)
def test_unknown_model_version_or_label_is_404_worded_as_tf_serving(
    gateway: APIClient, path: str, message: str
) -> None:
    response = gateway.post(path, {"instances": [1.0]}, format="json")

    assert response.status_code == 404
    assert response.json() == {"error": message, "code": "not_found"}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v1/models/nope", "Could not find any versions of model nope"),
        ("/v1/models/half_plus_two/versions/9", "Could not find version 9 of model half_plus_two"),
        ("/v1/models/nope/metadata", "Servable not found for request: Latest(nope)"),
    ],
)
def test_unknown_model_status_and_metadata_are_404(
    gateway: APIClient, path: str, message: str
) -> None:
    response = gateway.get(path)

    assert response.status_code == 404
    assert response.json() == {"error": message, "code": "not_found"}


@pytest.mark.parametrize(
    ("model", "body", "message"),
    [
        pytest.param(
            "half_plus_two",
            b'{"instances": [1.0,',
            "JSON Parse error: unexpected end of data: line 1 column 20 (char 19)",
            id="invalid-json",
        ),
        pytest.param(
            "half_plus_two", b"[1.0]", "JSON Value: [1.0] Is not object", id="not-an-object"
        ),
        pytest.param(
            "half_plus_two",
            b'{"instance": [1.0]}',
            "Missing 'inputs' or 'instances' key",
            id="no-instances-or-inputs",
        ),
        pytest.param(
            "half_plus_two",
            b'{"instances": [1.0], "inputs": [1.0]}',
            "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist",
            id="both-formats",
        ),
        pytest.param(
            "half_plus_two",
            b'{"inputs": {"z": [1.0]}}',
            "Missing named input: x in 'inputs' object. Input 'x' expects float tensor of shape"
            " [-1]; the object names z, which signature 'serving_default' does not have",
            id="misnamed-input",
        ),
        pytest.param(
            "iris",
            b'{"instances": [{"sepal_length": 1, "sepal_width": 1, "petal_length": 1}]}',
            "Failed to process element: 0 of 'instances' list. JSON object keys must be equal"
            " to: petal_length,petal_width,sepal_length,sepal_width. Missing: petal_width"
            " (float tensor of shape [-1])",
            id="missing-input",
        ),
        pytest.param(
            "half_plus_two",
            b'{"instances": [[1.0], [2.0, 3.0]]}',
            "Input 'x' expects float tensor of shape [-1]; got a ragged list: instances[1] has"
            " 2 elements where 1 were expected",
            id="ragged",
        ),
        pytest.param(
            "half_plus_two",
            b'{"instances": ["a"]}',
            "Input 'x' expects float tensor of shape [-1]; instances[0]: JSON Value: \"a\""
            " Type: String is not of expected type: float",
            id="non-numeric",
        ),
        pytest.param(
            "sentiment",
            b'{"instances": [{"b64": "!!!"}]}',
            "Input 'text' expects string tensor of shape [-1]; instances[0]: Unable to base64"
            " decode",
            id="bad-base64",
        ),
        pytest.param(
            "half_plus_two",
            b'{"signature_name": "nope", "instances": [1.0]}',
            'Serving signature name: "nope" not found in signature def',
            id="unknown-signature",
        ),
    ],
)
def test_malformed_payload_is_400_naming_the_problem(
    gateway: APIClient, model: str, body: bytes, message: str
) -> None:
    response = post_raw(gateway, f"/v1/models/{model}:predict", body)

    assert response.status_code == 400
    assert response.json() == {"error": message, "code": "invalid_argument"}


@pytest.mark.parametrize(
    ("model", "body", "inputs"),
    [
        pytest.param(
            "digits",
            b'{"instances": [[1.0, 2.0]]}',
            {"image": np.array([[1.0, 2.0]], np.float32)},
            id="wrong-rank",
        ),
        pytest.param(
            "digits",
            b'{"inputs": {"image": ' + str(np.ones((1, 20, 20, 1)).tolist()).encode() + b"}}",
            {"image": np.ones((1, 20, 20, 1), np.float32)},
            id="wrong-fixed-dimension",  # 20x20 where the graph reshapes 28x28's features
        ),
        pytest.param(
            "iris",
            b'{"instances": [{"sepal_length": [1, 2], "sepal_width": 1, "petal_length": 1,'
            b' "petal_width": 1}]}',
            {
                "sepal_length": np.array([[1, 2]], np.float32),
                "sepal_width": np.array([1], np.float32),
                "petal_length": np.array([1], np.float32),
                "petal_width": np.array([1], np.float32),
            },
            id="batch-sizes-disagree",
        ),
    ],
)
def test_a_shape_the_model_refuses_is_answered_as_the_model_server_words_it(
    gateway: APIClient, model_server_address: str, model: str, body: bytes, inputs: dict
) -> None:
    # Shapes are the model's business, as in TF Serving: the gateway forwards them and
    # passes the model server's status on, whatever the model server checks itself.
    with pytest.raises(grpc.RpcError) as direct:
        direct_predict(model_server_address, model, inputs)

    response = post_raw(gateway, f"/v1/models/{model}:predict", body)

    assert response.status_code == http_status_for(direct.value.code())
    assert response.json() == {
        "error": client_message(direct.value.details()),  # less TensorFlow's node names
        "code": direct.value.code().name.lower(),
    }


def test_classify_on_a_predict_signature_is_400_from_the_model_server(gateway: APIClient) -> None:
    response = gateway.post(
        "/v1/models/iris:classify", {"examples": [{"sepal_length": 1.0}]}, format="json"
    )

    # TF Serving (method name check off, its default) judges the signature by its shape:
    # iris's serving_default has four inputs.
    assert response.status_code == 400
    assert response.json() == {
        "error": "Expected one input Tensor."
        ' Signatures of iris that classify: "classification" (send "signature_name")',
        "code": "invalid_argument",
    }


def test_classify_without_examples_is_400(gateway: APIClient) -> None:
    response = gateway.post("/v1/models/iris:classify", {"instances": [1.0]}, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == (
        "When method is classify or regress, key 'examples' is expected and was not found"
    )


def test_body_over_the_limit_is_413(gateway: APIClient, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000

    response = post_raw(
        gateway, "/v1/models/half_plus_two:predict", b'{"instances": [' + b"1.0," * 500 + b"1.0]}"
    )

    assert response.status_code == 413
    assert response.json() == {
        "error": "Request body is larger than the allowed maximum",
        "code": "payload_too_large",
    }


def test_body_just_under_the_limit_is_accepted(gateway: APIClient, settings) -> None:
    body = b'{"instances": [1.0]}'
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body)

    response = post_raw(gateway, "/v1/models/half_plus_two:predict", body)

    assert response.status_code == 200


def test_unknown_path_under_v1_is_404_worded_as_tf_serving(gateway: APIClient) -> None:
    response = gateway.post("/v1/models/iris:explain", {}, format="json")

    assert response.status_code == 404
    assert response.json() == {
        "error": "Malformed request: POST /v1/models/iris:explain",
        "code": "not_found",
    }


def test_get_on_predict_is_405(gateway: APIClient) -> None:
    response = gateway.get("/v1/models/half_plus_two:predict")

    assert response.status_code == 405
    assert response.json() == {"error": 'Method "GET" not allowed.', "code": "method_not_allowed"}


@pytest.fixture
def failing_predict(gateway: APIClient, monkeypatch: pytest.MonkeyPatch) -> APIClient:
    """The gateway whose prediction service fails unexpectedly (a bug, not a bad request)."""

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(services, "run_prediction", explode)
    gateway.raise_request_exception = False  # answer as a server would, not re-raise
    return gateway


def test_unexpected_error_is_a_plain_500_without_details(failing_predict: APIClient) -> None:
    response = failing_predict.post("/v1/models/half_plus_two:predict", {"instances": [1]})

    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error", "code": "internal"}


def test_unexpected_error_goes_through_djangos_500_path(failing_predict: APIClient) -> None:
    received: list[object] = []

    def receiver(sender: object, request: object = None, **kwargs: object) -> None:
        received.append(request)

    got_request_exception.connect(receiver)
    try:
        failing_predict.post("/v1/models/half_plus_two:predict", {"instances": [1]})
    finally:
        got_request_exception.disconnect(receiver)

    assert [request.path for request in received] == ["/v1/models/half_plus_two:predict"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/models/half_plus_two:predict",
        "/v1/models/sentiment:predict",
        "/v1/models/iris:classify",
    ],
)
@pytest.mark.parametrize(
    "body",
    [
        '{"instances": [1.0, NaN], "signature_name": "\\ud800"}',
        '{"instances": ["\\ud800", Infinity]}',
        '{"examples": [{"x": "\\ud800"}], "y": NaN}',
    ],
)
def test_a_lone_surrogate_with_a_non_finite_token_is_400_not_500(
    gateway: APIClient, path: str, body: str
) -> None:
    response = gateway.generic("POST", path, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {
        "error": "JSON Parse error: The surrogate pair in string is invalid",
        "code": "invalid_argument",
    }
