"""The batch limit for calls that are not batched (--max_request_batch_size, ours)."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from modelserver.errors import ServingError
from modelserver.flags import parse_options
from modelserver.request_limits import DEFAULT_MAX_BATCH_SIZE, RequestLimits
from tests.modelserver.requests import (
    classification_request,
    example,
    half_plus_two_request,
    multi_inference_request,
    outputs_of,
    predict_request,
    regression_request,
)

TOO_MANY = DEFAULT_MAX_BATCH_SIZE + 1
TOO_MANY_MESSAGE = f"Task size {TOO_MANY} is larger than maximum input batch size 1000"


def test_the_default_limit_is_tf_servings_default_max_batch_size():
    options, _ = parse_options(["--model_base_path=m"])

    assert options.max_request_batch_size == DEFAULT_MAX_BATCH_SIZE == 1000


def test_zero_means_no_limit_as_in_tf_serving_without_batching():
    options, _ = parse_options(["--model_base_path=m", "--max_request_batch_size=0"])

    RequestLimits(options.max_request_batch_size).check_batch_size(10**9)


def test_a_call_over_the_limit_is_refused_with_tf_servings_batching_words():
    with pytest.raises(ServingError) as refused:
        RequestLimits(4).check_batch_size(5)

    assert (refused.value.code, refused.value.message) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Task size 5 is larger than maximum input batch size 4",
    )


def test_predict_at_the_limit_is_answered(prediction):
    response = prediction.Predict(half_plus_two_request([1.0] * DEFAULT_MAX_BATCH_SIZE))

    assert outputs_of(response)["y"].shape == (DEFAULT_MAX_BATCH_SIZE,)


def test_predict_over_the_limit_is_refused_before_it_runs(prediction):
    with pytest.raises(grpc.RpcError) as refused:
        prediction.Predict(half_plus_two_request([1.0] * TOO_MANY))

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details() == TOO_MANY_MESSAGE


def test_the_largest_0th_dimension_of_any_input_counts(prediction):
    inputs = {"a": np.zeros(1, np.float32), "b": np.zeros(TOO_MANY, np.float32)}

    with pytest.raises(grpc.RpcError) as refused:
        prediction.Predict(predict_request("examples", inputs))

    assert refused.value.details() == TOO_MANY_MESSAGE


@pytest.mark.parametrize(
    "call",
    [
        lambda stub, examples: stub.Classify(classification_request("examples", examples)),
        lambda stub, examples: stub.Regress(regression_request("examples", examples)),
        lambda stub, examples: stub.MultiInference(
            multi_inference_request(
                "examples", [("classification", "tensorflow/serving/classify")], examples
            )
        ),
    ],
    ids=["classify", "regress", "multi_inference"],
)
def test_examples_over_the_limit_are_refused(prediction, call):
    with pytest.raises(grpc.RpcError) as refused:
        call(prediction, [example(a=1.0)] * TOO_MANY)

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details() == TOO_MANY_MESSAGE
