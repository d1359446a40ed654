"""Classify, Regress and MultiInference against the test model's tf.Example signatures."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from tests.modelserver.reference import session_signatures
from tests.modelserver.requests import (
    classification_request,
    example,
    multi_inference_request,
    regression_request,
)

CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"
EXAMPLES = [example(a=0.0, b=1.0), example(a=2.0, b=-1.5), example(a=-3.0)]


@pytest.fixture(scope="module")
def direct(models_dir):
    return session_signatures(models_dir / "examples" / "1")


def serialized(examples) -> np.ndarray:
    return np.array([e.SerializeToString() for e in examples], dtype=object)


def call_error(call, request) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call(request)
    return caught.value.code(), caught.value.details()


def test_classify_returns_label_score_pairs_equal_to_tensorflow(prediction, direct):
    expected = direct["classification"](inputs=serialized(EXAMPLES))

    response = prediction.Classify(classification_request("examples", EXAMPLES))

    got_labels = [[c.label for c in r.classes] for r in response.result.classifications]
    got_scores = np.array([[c.score for c in r.classes] for r in response.result.classifications])
    assert got_labels == [["low", "high"]] * 3
    np.testing.assert_array_equal(got_scores.astype(np.float32), expected["scores"])
    assert response.model_spec.name == "examples"
    assert response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "classification"


def test_regress_returns_one_value_per_example_equal_to_tensorflow(prediction, direct):
    expected = direct["regression"](inputs=serialized(EXAMPLES))["outputs"]

    response = prediction.Regress(regression_request("examples", EXAMPLES))

    got = np.array([r.value for r in response.result.regressions], np.float32)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, [2.0, -1.0, -3.0])


def test_context_features_apply_to_every_example(prediction):
    request = regression_request("examples", [])
    request.input.example_list_with_context.examples.extend([example(a=1.0), example(a=4.0)])
    request.input.example_list_with_context.context.CopyFrom(example(b=10.0))

    response = prediction.Regress(request)

    assert [r.value for r in response.result.regressions] == [21.0, 24.0]


def test_multi_inference_runs_each_task_on_the_same_examples(prediction, direct):
    request = multi_inference_request(
        "examples", [("classification", CLASSIFY), ("regression", REGRESS)], EXAMPLES
    )

    response = prediction.MultiInference(request)

    classification, regression = response.results
    assert classification.model_spec.signature_name == "classification"
    assert regression.model_spec.signature_name == "regression"
    assert regression.model_spec.version.value == 1
    np.testing.assert_array_equal(
        np.array(
            [
                [c.score for c in r.classes]
                for r in classification.classification_result.classifications
            ],
            np.float32,
        ),
        direct["classification"](inputs=serialized(EXAMPLES))["scores"],
    )
    assert [r.value for r in regression.regression_result.regressions] == [2.0, -1.0, -3.0]


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (
            # Without --enable_signature_method_name_check the signature's shape is checked.
            classification_request("examples", EXAMPLES, signature="serving_default"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "Expected one input Tensor.",
        ),
        (
            classification_request("examples", EXAMPLES, signature="nope"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "No signature was found with the name: nope",
        ),
        (
            classification_request("examples", []),
            grpc.StatusCode.INVALID_ARGUMENT,
            "Input is empty.",
        ),
        (
            classification_request("nope", EXAMPLES),
            grpc.StatusCode.NOT_FOUND,
            "Servable not found for request: Latest(nope)",
        ),
    ],
    ids=["two-inputs", "unknown-signature", "no-examples", "unknown-model"],
)
def test_classify_errors_match_tf_serving(prediction, request_, code, message):
    assert call_error(prediction.Classify, request_) == (code, message)


def test_regress_on_a_classification_signature_wants_one_output(prediction):
    request = regression_request("examples", EXAMPLES, signature="classification")

    assert call_error(prediction.Regress, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Expected one output Tensor.",
    )


def test_classify_without_a_model_spec_is_refused(prediction):
    request = classification_request("examples", EXAMPLES)
    request.ClearField("model_spec")

    assert call_error(prediction.Classify, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Missing ModelSpec",
    )


@pytest.mark.parametrize(
    ("tasks", "code", "message"),
    [
        (
            [("classification", CLASSIFY), ("classification", CLASSIFY)],
            grpc.StatusCode.INVALID_ARGUMENT,
            "Duplicate evaluation of signature: classification",
        ),
        (
            [("nope", CLASSIFY)],
            grpc.StatusCode.INVALID_ARGUMENT,
            "Requested signature not found in model graph: nope",
        ),
        (
            [("serving_default", "tensorflow/serving/predict")],
            grpc.StatusCode.UNIMPLEMENTED,
            "Unsupported signature method_name: tensorflow/serving/predict",
        ),
        ([], grpc.StatusCode.INVALID_ARGUMENT, "ModelSpec has no name specified."),
    ],
    ids=["duplicate-signature", "unknown-signature", "predict-task", "no-tasks"],
)
def test_multi_inference_errors_match_tf_serving(prediction, tasks, code, message):
    request = multi_inference_request("examples", tasks, EXAMPLES)

    assert call_error(prediction.MultiInference, request) == (code, message)


def test_multi_inference_tasks_must_name_one_model(prediction):
    request = multi_inference_request(
        "examples", [("classification", CLASSIFY), ("regression", REGRESS)], EXAMPLES
    )
    request.tasks[1].model_spec.name = "half_plus_two"

    assert call_error(prediction.MultiInference, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "All ModelSpecs in a MultiInferenceRequest must access the same model name.",
    )
