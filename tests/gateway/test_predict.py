"""Predict through the gateway on every demo model, in both TF Serving formats.

Numbers are exact where the model is exact (half_plus_two); elsewhere the
gateway's answer must equal a direct gRPC call to the same model server.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest
from rest_framework.test import APIClient

from tests.gateway.direct import direct_predict

pytestmark = pytest.mark.django_db

IRIS_ROWS = [
    {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2},
    {"sepal_length": 6.4, "sepal_width": 3.2, "petal_length": 4.5, "petal_width": 1.5},
    {"sepal_length": 7.7, "sepal_width": 3.0, "petal_length": 6.1, "petal_width": 2.3},
]


def predict(client: APIClient, path: str, body: object):
    return client.post(path, body, format="json")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/models/half_plus_two:predict", [3.5, 4.0, 5.5]),
        ("/v1/models/half_plus_two/versions/1:predict", [2.5, 3.0, 4.5]),
        ("/v1/models/half_plus_two/versions/2:predict", [3.5, 4.0, 5.5]),
        ("/v1/models/half_plus_two/labels/stable:predict", [2.5, 3.0, 4.5]),
        ("/v1/models/half_plus_two/labels/canary:predict", [3.5, 4.0, 5.5]),
    ],
)
def test_half_plus_two_row_format_answers_per_version_and_label(
    gateway: APIClient, path: str, expected: list[float]
) -> None:
    response = predict(gateway, path, {"instances": [1.0, 2.0, 5.0]})

    assert response.status_code == 200
    assert response.json() == {"predictions": expected}


def test_half_plus_two_columnar_format_answers_outputs_without_a_name(gateway: APIClient) -> None:
    response = predict(gateway, "/v1/models/half_plus_two/versions/1:predict", {"inputs": [4.0]})

    assert response.status_code == 200
    assert response.json() == {"outputs": [4.0]}


def test_half_plus_two_columnar_format_accepts_named_inputs(gateway: APIClient) -> None:
    response = predict(gateway, "/v1/models/half_plus_two:predict", {"inputs": {"x": [0.0, -2.0]}})

    assert response.json() == {"outputs": [3.0, 2.0]}


def test_body_without_json_content_type_is_read_as_tf_serving_does(gateway: APIClient) -> None:
    # curl -d sends application/x-www-form-urlencoded; TF Serving ignores the type.
    response = gateway.post(
        "/v1/models/half_plus_two:predict",
        data=b'{"instances": [1.0]}',
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert response.json() == {"predictions": [3.5]}


def test_iris_row_format_equals_a_direct_grpc_call(
    gateway: APIClient, model_server_address: str
) -> None:
    direct = direct_predict(
        model_server_address,
        "iris",
        {key: np.array([row[key] for row in IRIS_ROWS], dtype=np.float32) for key in IRIS_ROWS[0]},
    )

    response = predict(gateway, "/v1/models/iris:predict", {"instances": IRIS_ROWS})

    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert [row["classes"] for row in predictions] == ["setosa", "versicolor", "virginica"]
    assert [row["class_ids"] for row in predictions] == direct["class_ids"].tolist()
    np.testing.assert_array_equal(
        np.array([row["probabilities"] for row in predictions], dtype=np.float32),
        direct["probabilities"],
    )


def test_iris_columnar_format_returns_every_output_by_name(gateway: APIClient) -> None:
    columns = {key: [row[key] for row in IRIS_ROWS] for key in IRIS_ROWS[0]}

    response = predict(gateway, "/v1/models/iris:predict", {"inputs": columns})

    outputs = response.json()["outputs"]
    assert sorted(outputs) == ["class_ids", "classes", "probabilities"]
    assert outputs["classes"] == ["setosa", "versicolor", "virginica"]
    assert outputs["class_ids"] == [0, 1, 2]
    assert np.array(outputs["probabilities"]).shape == (3, 3)


def test_sentiment_accepts_b64_strings_and_returns_bytes_outputs_as_b64(
    gateway: APIClient, model_server_address: str
) -> None:
    text = b"I Love This Movie"
    direct = direct_predict(model_server_address, "sentiment", {"text": np.array([text], object)})

    response = predict(
        gateway,
        "/v1/models/sentiment:predict",
        {"instances": [{"b64": base64.b64encode(text).decode()}]},
    )

    assert response.status_code == 200
    [prediction] = response.json()["predictions"]
    assert base64.b64decode(prediction["text_bytes"]["b64"]) == b"i love this movie"
    assert prediction["label"] == direct["label"][0].decode()
    assert np.float32(prediction["score"]) == direct["score"][0]


def test_sentiment_columnar_format_takes_plain_strings(gateway: APIClient) -> None:
    response = predict(
        gateway, "/v1/models/sentiment:predict", {"inputs": {"text": ["great", "awful"]}}
    )

    outputs = response.json()["outputs"]
    assert len(outputs["score"]) == 2
    assert outputs["text_bytes"] == [
        {"b64": base64.b64encode(b"great").decode()},
        {"b64": base64.b64encode(b"awful").decode()},
    ]


def test_digits_image_batch_equals_a_direct_grpc_call(
    gateway: APIClient, model_server_address: str
) -> None:
    images = np.linspace(0.0, 1.0, 2 * 28 * 28, dtype=np.float32).reshape(2, 28, 28, 1)
    direct = direct_predict(model_server_address, "digits", {"image": images})

    response = predict(gateway, "/v1/models/digits:predict", {"instances": images.tolist()})

    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert [row["class_ids"] for row in predictions] == direct["class_ids"].tolist()
    np.testing.assert_array_equal(
        np.array([row["probabilities"] for row in predictions], dtype=np.float32),
        direct["probabilities"],
    )


def test_digits_columnar_format_returns_probabilities_of_shape_batch_by_10(
    gateway: APIClient,
) -> None:
    images = np.zeros((3, 28, 28, 1), dtype=np.float32)

    response = predict(gateway, "/v1/models/digits:predict", {"inputs": {"image": images.tolist()}})

    outputs = response.json()["outputs"]
    assert np.array(outputs["probabilities"]).shape == (3, 10)
    assert len(outputs["class_ids"]) == 3


def test_response_carries_the_gateways_request_id_and_echoes_the_callers(
    gateway: APIClient,
) -> None:
    response = gateway.post(
        "/v1/models/half_plus_two:predict",
        {"instances": [1.0]},
        format="json",
        HTTP_X_REQUEST_ID="trace-42",
    )

    assert len(response["X-Request-ID"]) == 32
    assert response["X-Client-Request-ID"] == "trace-42"


def test_response_gets_a_generated_request_id_when_none_is_sent(gateway: APIClient) -> None:
    response = predict(gateway, "/v1/models/half_plus_two:predict", {"instances": [1.0]})

    assert len(response["X-Request-ID"]) == 32
