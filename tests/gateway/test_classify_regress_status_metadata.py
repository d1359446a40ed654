"""Classify, regress, model status, metadata and the model list, through the gateway."""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.gateway.conftest import make_user
from tests.gateway.direct import direct_classify, direct_regress
from tfserving.protos import input_pb2

pytestmark = pytest.mark.django_db

FLOWER = {"sepal_length": 6.4, "sepal_width": 3.2, "petal_length": 4.5, "petal_width": 1.5}


def _examples(*rows: dict[str, float]) -> input_pb2.Input:
    examples = input_pb2.Input()
    for row in rows:
        example = examples.example_list.examples.add()
        for name, value in row.items():
            example.features.feature[name].float_list.value.append(value)
    return examples


def test_iris_classify_equals_a_direct_grpc_call(
    gateway: APIClient, model_server_address: str
) -> None:
    direct = direct_classify(model_server_address, "iris", _examples(FLOWER), "classification")

    response = gateway.post(
        "/v1/models/iris:classify",
        {"signature_name": "classification", "examples": [FLOWER]},
        format="json",
    )

    assert response.status_code == 200
    [[*classes]] = response.json()["results"]
    expected = direct.result.classifications[0].classes
    assert [label for label, _ in classes] == [entry.label for entry in expected]
    assert [label for label, _ in classes] == ["setosa", "versicolor", "virginica"]
    np.testing.assert_array_equal(
        np.array([score for _, score in classes], dtype=np.float32),
        np.array([entry.score for entry in expected], dtype=np.float32),
    )


def test_iris_regress_equals_a_direct_grpc_call(
    gateway: APIClient, model_server_address: str
) -> None:
    row = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4}
    direct = direct_regress(model_server_address, "iris", _examples(row), "regression")

    response = gateway.post(
        "/v1/models/iris/versions/1:regress",
        {"signature_name": "regression", "examples": [row]},
        format="json",
    )

    assert response.status_code == 200
    [value] = response.json()["results"]
    assert np.float32(value) == np.float32(direct.result.regressions[0].value)


def test_classify_on_a_signature_that_does_not_classify_names_the_ones_that_do(
    gateway: APIClient,
) -> None:
    response = gateway.post("/v1/models/iris:classify", {"examples": [FLOWER]}, format="json")

    assert response.status_code == 400
    assert response.json()["error"].endswith(
        'Signatures of iris that classify: "classification" (send "signature_name")'
    )


def test_a_missing_feature_is_reported_without_tensorflows_graph_nodes(
    gateway: APIClient,
) -> None:
    flower = {name: value for name, value in FLOWER.items() if name != "petal_width"}

    response = gateway.post(
        "/v1/models/iris:classify",
        {"signature_name": "classification", "examples": [flower]},
        format="json",
    )

    assert response.status_code == 400
    assert "petal_width" in response.json()["error"]
    assert "[[" not in response.json()["error"]


def test_status_lists_both_half_plus_two_versions_as_tf_serving_does(gateway: APIClient) -> None:
    response = gateway.get("/v1/models/half_plus_two")

    assert response.status_code == 200
    assert sorted(response.json()["model_version_status"], key=lambda s: s["version"]) == [
        {
            "version": version,
            "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""},
        }
        for version in ("1", "2")
    ]


def test_status_of_one_version(gateway: APIClient) -> None:
    response = gateway.get("/v1/models/half_plus_two/versions/1")

    assert [s["version"] for s in response.json()["model_version_status"]] == ["1"]


def test_status_with_a_label_reports_every_version_as_tf_serving_does(
    gateway: APIClient,
) -> None:
    # TF Serving's GetModelStatus reads only the version of a ModelSpec, not its label.
    response = gateway.get("/v1/models/half_plus_two/labels/stable")

    assert response.status_code == 200
    assert sorted(s["version"] for s in response.json()["model_version_status"]) == ["1", "2"]


def test_metadata_describes_the_signature_of_the_requested_version(gateway: APIClient) -> None:
    response = gateway.get("/v1/models/half_plus_two/versions/1/metadata")

    assert response.status_code == 200
    body = response.json()
    assert body["model_spec"]["name"] == "half_plus_two"
    assert body["model_spec"]["version"] == "1"
    signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["x"]["dtype"] == "DT_FLOAT"
    assert signature["outputs"]["y"]["dtype"] == "DT_FLOAT"
    assert signature["method_name"] == "tensorflow/serving/predict"


def test_metadata_of_iris_lists_its_three_signatures(gateway: APIClient) -> None:
    response = gateway.get("/v1/models/iris/metadata")

    signatures = response.json()["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "classification", "regression"} <= set(signatures)


def test_model_list_shows_granted_models_with_versions_and_state(gateway: APIClient) -> None:
    response = gateway.get("/v1/models")

    assert response.status_code == 200
    models = {model["name"]: model for model in response.json()["models"]}
    assert sorted(models) == ["digits", "half_plus_two", "iris", "sentiment"]
    assert sorted(s["version"] for s in models["half_plus_two"]["model_version_status"]) == [
        "1",
        "2",
    ]
    assert models["iris"]["model_version_status"][0]["state"] == "AVAILABLE"
    assert models["iris"]["predict_url"] == "http://testserver/v1/models/iris:predict"


def test_model_list_shows_only_granted_models(client_for, model_server_address: str) -> None:
    bob = make_user("bob", "iris")

    response = client_for(bob).get("/v1/models")

    assert [model["name"] for model in response.json()["models"]] == ["iris"]


def test_model_list_shows_a_granted_model_the_server_lacks_with_no_versions(
    client_for, model_server_address: str
) -> None:
    carol = make_user("carol", "retired_model")

    response = client_for(carol).get("/v1/models")

    assert response.json()["models"][0]["name"] == "retired_model"
    assert response.json()["models"][0]["model_version_status"] == []


def test_superuser_sees_every_catalogue_model(client_for, model_server_address: str) -> None:
    root = User.objects.create_superuser("root", password="x")

    response = client_for(root).get("/v1/models")

    assert [m["name"] for m in response.json()["models"]] == [
        "digits",
        "half_plus_two",
        "iris",
        "sentiment",
    ]
