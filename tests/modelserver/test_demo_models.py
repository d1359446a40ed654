"""The demo models in models/ through the session's model server (models/models.config)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)

from tests.modelserver.reference import session_signatures
from tests.modelserver.requests import (
    classification_request,
    example,
    half_plus_two_request,
    outputs_of,
    predict_request,
    regression_request,
    status_request,
)

MODELS = Path(__file__).resolve().parents[2] / "models"
State = get_model_status_pb2.ModelVersionStatus.State
IRIS_ROWS = {
    "sepal_length": [5.1, 6.2, 7.7],
    "sepal_width": [3.5, 2.9, 3.0],
    "petal_length": [1.4, 4.3, 6.1],
    "petal_width": [0.2, 1.3, 2.3],
}


@pytest.fixture(scope="module")
def stubs(modelserver_process) -> Iterator[tuple]:
    with grpc.insecure_channel(modelserver_process.address) as channel:
        yield (
            prediction_service_pb2_grpc.PredictionServiceStub(channel),
            model_service_pb2_grpc.ModelServiceStub(channel),
        )


def signatures(name: str, version: int = 1):
    return session_signatures(MODELS / name / str(version))


@pytest.mark.parametrize(
    ("spec", "expected", "version"),
    [
        ({}, [3.0, 3.5, 5.5], 2),
        ({"version": 1}, [2.0, 2.5, 4.5], 1),
        ({"version": 2}, [3.0, 3.5, 5.5], 2),
        ({"label": "stable"}, [2.0, 2.5, 4.5], 1),
        ({"label": "canary"}, [3.0, 3.5, 5.5], 2),
    ],
    ids=["latest", "v1", "v2", "stable", "canary"],
)
def test_half_plus_two_versions_and_labels(stubs, spec, expected, version):
    prediction, _ = stubs

    response = prediction.Predict(half_plus_two_request([0.0, 1.0, 5.0], **spec))

    assert list(outputs_of(response)["y"]) == expected
    assert response.model_spec.version.value == version


def test_every_configured_model_is_available(stubs):
    _, models = stubs

    states = {
        name: [
            (s.version, s.state)
            for s in models.GetModelStatus(status_request(name)).model_version_status
        ]
        for name in ("half_plus_two", "iris", "sentiment", "digits")
    }

    assert states == {
        "half_plus_two": [(1, State.AVAILABLE), (2, State.AVAILABLE)],
        "iris": [(1, State.AVAILABLE)],
        "sentiment": [(1, State.AVAILABLE)],
        "digits": [(1, State.AVAILABLE)],
    }


def test_iris_predict_equals_tensorflow(stubs):
    prediction, _ = stubs
    inputs = {name: np.array(values, np.float32) for name, values in IRIS_ROWS.items()}
    expected = signatures("iris")["serving_default"](**inputs)

    got = outputs_of(prediction.Predict(predict_request("iris", inputs)))

    assert sorted(got) == ["class_ids", "classes", "probabilities"]
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value)
    assert set(got["classes"]) <= {b"setosa", b"versicolor", b"virginica"}


def test_iris_classify_and_regress_equal_tensorflow(stubs):
    prediction, _ = stubs
    rows = [
        dict(zip(IRIS_ROWS, values, strict=True))
        for values in zip(*IRIS_ROWS.values(), strict=True)
    ]
    examples = [example(**row) for row in rows]
    serialized = np.array([e.SerializeToString() for e in examples], dtype=object)
    direct = signatures("iris")

    classified = prediction.Classify(classification_request("iris", examples))
    regressed = prediction.Regress(regression_request("iris", examples))

    expected_scores = direct["classification"](inputs=serialized)["scores"]
    got_scores = [[c.score for c in r.classes] for r in classified.result.classifications]
    np.testing.assert_array_equal(np.array(got_scores, np.float32), expected_scores)
    assert [c.label for c in classified.result.classifications[0].classes] == [
        "setosa",
        "versicolor",
        "virginica",
    ]
    expected_widths = direct["regression"](inputs=serialized)["outputs"]
    got_widths = np.array([r.value for r in regressed.result.regressions], np.float32)
    np.testing.assert_array_equal(got_widths, expected_widths)


def test_sentiment_takes_and_returns_strings(stubs):
    prediction, _ = stubs
    texts = np.array([b"A Wonderful, Delightful Film", b"Dull and BORING"], dtype=object)
    expected = signatures("sentiment")["serving_default"](text=texts)

    got = outputs_of(prediction.Predict(predict_request("sentiment", {"text": texts})))

    assert list(got["text_bytes"]) == [b"a wonderful, delightful film", b"dull and boring"]
    assert list(got["label"]) == list(expected["label"])
    np.testing.assert_array_equal(got["score"], expected["score"])


def test_digits_predict_equals_tensorflow(stubs):
    prediction, _ = stubs
    images = np.random.default_rng(3).random((4, 28, 28, 1), dtype=np.float32)
    expected = signatures("digits")["serving_default"](image=images)

    got = outputs_of(prediction.Predict(predict_request("digits", {"image": images})))

    np.testing.assert_array_equal(got["probabilities"], expected["probabilities"])
    np.testing.assert_array_equal(got["class_ids"], expected["class_ids"])
