"""Predict through a real gRPC channel: values, ModelSpec resolution, output_filter, errors."""

from __future__ import annotations

import re
from pathlib import Path

import grpc
import numpy as np
import pytest
from tensorflow.core.framework import tensor_pb2, types_pb2

from tests.modelserver.reference import session_signatures
from tests.modelserver.requests import half_plus_two_request, outputs_of, predict_request


def call_error(call, request) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call(request)
    return caught.value.code(), caught.value.details()


def test_no_version_answers_from_the_latest_version(prediction):
    response = prediction.Predict(half_plus_two_request([1.0, 2.0, 5.0]))

    np.testing.assert_array_equal(outputs_of(response)["y"], np.array([3.5, 4.0, 5.5], np.float32))
    assert response.model_spec.name == "half_plus_two"
    assert response.model_spec.version.value == 2
    assert response.model_spec.signature_name == "serving_default"


def test_version_1_computes_half_plus_two(prediction):
    response = prediction.Predict(half_plus_two_request([1.0, 2.0, 5.0], version=1))

    np.testing.assert_array_equal(outputs_of(response)["y"], np.array([2.5, 3.0, 4.5], np.float32))
    assert response.model_spec.version.value == 1


@pytest.mark.parametrize(("label", "version", "expected"), [("stable", 1, 2.5), ("canary", 2, 3.5)])
def test_version_label_picks_its_version(prediction, label, version, expected):
    response = prediction.Predict(half_plus_two_request([1.0], label=label))

    assert list(outputs_of(response)["y"]) == [expected]
    assert response.model_spec.version.value == version


def test_outputs_use_typed_value_fields_like_tf_serving(prediction):
    response = prediction.Predict(half_plus_two_request([0.0, 2.0], version=1))

    assert list(response.outputs["y"].float_val) == [2.0, 3.0]
    assert response.outputs["y"].tensor_content == b""
    assert [d.size for d in response.outputs["y"].tensor_shape.dim] == [2]


def test_typed_value_inputs_repeat_their_last_value_like_tensorflow(prediction):
    request = half_plus_two_request([0.0], version=1)
    request.inputs["x"].CopyFrom(tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[4.0]))
    request.inputs["x"].tensor_shape.dim.add(size=3)

    response = prediction.Predict(request)

    assert list(outputs_of(response)["y"]) == [4.0, 4.0, 4.0]


def test_results_equal_the_savedmodel_called_in_tensorflow(prediction, models_dir: Path):
    a = np.array([0.5, -1.25, 3.0, 1e6], np.float32)
    b = np.array([2.0, 4.0, -0.5, 1e-3], np.float32)
    expected = session_signatures(models_dir / "examples" / "1")["serving_default"](a=a, b=b)

    response = prediction.Predict(predict_request("examples", {"a": a, "b": b}))

    got = outputs_of(response)
    assert sorted(got) == ["product", "sum"]
    for name, value in expected.items():
        np.testing.assert_array_equal(got[name], value)


def test_multi_dimensional_inputs_keep_their_shape(prediction):
    images = np.arange(12, dtype=np.float32).reshape(3, 2, 2, 1)

    response = prediction.Predict(predict_request("examples", {"image": images}, signature="image"))

    np.testing.assert_array_equal(outputs_of(response)["total"], [6.0, 22.0, 38.0])
    assert response.model_spec.signature_name == "image"


def test_output_filter_returns_only_the_named_outputs(prediction):
    request = predict_request("examples", {"a": [2.0], "b": [3.0]}, output_filter=["product"])

    response = prediction.Predict(request)

    assert list(response.outputs) == ["product"]
    assert list(outputs_of(response)["product"]) == [6.0]


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (
            predict_request("nope", {"x": [1.0]}),
            grpc.StatusCode.NOT_FOUND,
            "Servable not found for request: Latest(nope)",
        ),
        (
            half_plus_two_request([1.0], version=7),
            grpc.StatusCode.NOT_FOUND,
            "Servable not found for request: Specific(half_plus_two, 7)",
        ),
        (
            predict_request("nope", {"x": [1.0]}, version=1),
            grpc.StatusCode.NOT_FOUND,
            "Servable not found for request: Specific(nope, 1)",
        ),
        (
            half_plus_two_request([1.0], label="beta"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "Unrecognized servable version label: beta",
        ),
        (
            predict_request("nope", {"x": [1.0]}, label="stable"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "Unrecognized servable version label: stable",
        ),
        (
            predict_request("", {"x": [1.0]}),
            grpc.StatusCode.INVALID_ARGUMENT,
            "ModelSpec has no name specified.",
        ),
        (
            half_plus_two_request([1.0], signature="nope"),
            grpc.StatusCode.FAILED_PRECONDITION,
            'Serving signature key "nope" not found.',
        ),
    ],
    ids=[
        "unknown-model",
        "unknown-version",
        "unknown-model-with-version",
        "unknown-label",
        "label-of-unknown-model",
        "no-model-name",
        "unknown-signature",
    ],
)
def test_unresolvable_model_specs_fail_like_tf_serving(prediction, request_, code, message):
    assert call_error(prediction.Predict, request_) == (code, message)


def test_missing_input_names_what_is_missing(prediction):
    request = predict_request("examples", {"a": [1.0]})

    assert call_error(prediction.Predict, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "input size does not match signature: 1!=2 len({a}) != len({a,b}). "
        "Sent extra: {}. Missing but required: {b}.",
    )


def test_extra_input_names_what_was_sent_extra(prediction):
    request = predict_request("half_plus_two", {"x": [1.0], "z": [2.0]})

    assert call_error(prediction.Predict, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "input size does not match signature: 2!=1 len({x,z}) != len({x}). "
        "Sent extra: {z}. Missing but required: {}.",
    )


def test_misnamed_input_names_the_expected_input_and_its_feed_tensor(prediction):
    request = predict_request("examples", {"a": [1.0], "c": [2.0]})

    assert call_error(prediction.Predict, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Signature input alias: b(feed name: serving_default_b:0) not found in request and no "
        "default value provided. Inputs expected to be in the request {a,c}, or default input "
        "alias set: ",
    )


def test_wrong_dtype_fails_in_the_session_with_tensorflow_s_message(prediction):
    request = predict_request("half_plus_two", {"x": np.array([b"one"], dtype=object)})

    assert call_error(prediction.Predict, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Expects arg[0] to be float but string is provided",
    )


def test_inputs_are_not_checked_against_the_signature_shape_as_in_tf_serving(prediction):
    request = predict_request("half_plus_two", {"x": np.ones((2, 2), np.float32)}, version=1)

    response = prediction.Predict(request)

    np.testing.assert_array_equal(outputs_of(response)["y"], np.full((2, 2), 2.5, np.float32))


def test_a_fixed_dimension_other_than_the_signature_s_runs_if_the_graph_can(prediction):
    request = predict_request(
        "examples", {"image": np.ones((1, 3, 2, 1), np.float32)}, signature="image"
    )

    response = prediction.Predict(request)

    assert list(outputs_of(response)["total"]) == [6.0]


def test_a_shape_the_graph_cannot_take_fails_inside_the_graph(prediction):
    request = predict_request(
        "examples", {"rows": np.array([1.0, 2.0], np.float32)}, signature="rowsum"
    )

    code, message = call_error(prediction.Predict, request)

    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert re.fullmatch(
        r"Invalid reduction dimension \(1 for input with 1 dimension\(s\)\n"
        r"\t \[\[\{\{function_node __inference_rowsum_\d+\}\}\{\{node Sum\}\}\]\]",
        message,
    )


def test_malformed_tensor_is_a_parsing_error_naming_the_input(prediction):
    request = half_plus_two_request([1.0])
    request.inputs["x"].tensor_content = b"\x00" * 5

    assert call_error(prediction.Predict, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "tensor parsing error: x",
    )


def test_unknown_output_filter_lists_the_outputs(prediction):
    request = predict_request("examples", {"a": [1.0], "b": [1.0]}, output_filter=["total"])

    assert call_error(prediction.Predict, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "output tensor alias not found in signature: total "
        "Outputs expected to be in the set {product,sum}.",
    )


def test_duplicate_output_filter_is_rejected(prediction):
    request = half_plus_two_request([1.0], output_filter=["y", "y"])

    assert call_error(prediction.Predict, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "duplicate output tensor alias: y",
    )


def test_without_the_method_name_check_any_signature_is_run(prediction):
    request = predict_request("half_plus_two", {}, signature="__saved_model_init_op")

    # The init signature's one output names an op, not a tensor: TensorFlow's session says so.
    assert call_error(prediction.Predict, request) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "Tried to fetch data for 'NoOp', which produces no output.  To run to a node but not "
        "fetch any data, pass 'NoOp' as an argument to the 'target_node_names' argument of the "
        "Session::Run API.",
    )


def test_errors_raised_inside_the_graph_keep_tensorflow_s_code_and_message(prediction):
    request = predict_request(
        "examples", {"x": np.array([4.0, -1.0], np.float32)}, signature="root"
    )

    code, message = call_error(prediction.Predict, request)

    assert code == grpc.StatusCode.INVALID_ARGUMENT
    # As a session run reports it: the function the node is in (numbered by TensorFlow at
    # export), then the node.
    assert re.fullmatch(
        r"assertion failed: \[x must not be negative\.  \] \[Condition x >= 0 did not hold "
        r"element-wise:\] \[x \(x:0\) = \] \[4 -1\]\n"
        r"\t \[\[\{\{function_node "
        r"assert_non_negative_assert_less_equal_Assert_AssertGuard_false_\d+\}\}"
        r"\{\{node assert_non_negative/assert_less_equal/Assert/AssertGuard/Assert\}\}\]\]",
        message,
    )
