"""--enable_signature_method_name_check: what TF Serving checks when it is on.

Off (the default, as in TF Serving) the signature's shape is what matters; the tests of
that are in test_predict.py and test_classify_regress.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from tensorflow_serving.apis import prediction_service_pb2_grpc

from tests.modelserver.requests import (
    classification_request,
    example,
    half_plus_two_request,
    multi_inference_request,
    regression_request,
)
from tests.support.processes import model_server

CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"
EXAMPLES = [example(a=1.0, b=2.0)]


@pytest.fixture(scope="module")
def checking(models_dir: Path) -> Iterator[prediction_service_pb2_grpc.PredictionServiceStub]:
    args = [
        "--model_config_file=models.config",
        "--file_system_poll_wait_seconds=0",
        "--enable_signature_method_name_check",
    ]
    with (
        model_server(args=args, cwd=models_dir) as process,
        grpc.insecure_channel(process.address) as channel,
    ):
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


def call_error(call, request) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call(request)
    return caught.value.code(), caught.value.details()


def test_predict_on_a_signature_of_another_method_is_an_internal_error(checking):
    request = half_plus_two_request([1.0], signature="__saved_model_init_op")

    assert call_error(checking.Predict, request) == (
        grpc.StatusCode.INTERNAL,
        "Expected prediction signature method_name to be one of {tensorflow/serving/predict, "
        "tensorflow/serving/classify, tensorflow/serving/regress}. Was: ",
    )


def test_classify_on_a_predict_signature_names_the_expected_method(checking):
    request = classification_request("examples", EXAMPLES, signature="serving_default")

    assert call_error(checking.Classify, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Expected classification signature method_name to be tensorflow/serving/classify. "
        "Was: tensorflow/serving/predict",
    )


def test_regress_on_a_classification_signature_names_the_expected_method(checking):
    request = regression_request("examples", EXAMPLES, signature="classification")

    assert call_error(checking.Regress, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Expected regression signature method_name to be tensorflow/serving/regress. "
        "Was: tensorflow/serving/classify",
    )


def test_multi_inference_checks_each_task_s_method(checking):
    request = multi_inference_request("examples", [("classification", REGRESS)], EXAMPLES)

    assert call_error(checking.MultiInference, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Expected regression signature method_name to be tensorflow/serving/regress. "
        "Was: tensorflow/serving/classify",
    )


def test_signatures_of_the_right_method_still_run(checking):
    response = checking.Regress(regression_request("examples", EXAMPLES))

    assert [r.value for r in response.result.regressions] == [5.0]
