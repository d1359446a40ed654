from __future__ import annotations

import grpc
import pytest

from tfserving.errors import (
    GatewayError,
    InvalidInput,
    ModelNotFound,
    PayloadTooLarge,
    UpstreamError,
    http_status_for,
)
from tfserving.models import ModelRef


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.FAILED_PRECONDITION, 400),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
        (grpc.StatusCode.INTERNAL, 502),
        (grpc.StatusCode.UNKNOWN, 502),
        (grpc.StatusCode.UNIMPLEMENTED, 502),
        (grpc.StatusCode.PERMISSION_DENIED, 502),
        (grpc.StatusCode.CANCELLED, 502),
    ],
)
def test_http_status_for_maps_grpc_codes_as_the_design_table(code, status):
    assert http_status_for(code) == status


def test_every_client_error_is_a_gateway_error_with_status_and_code():
    errors = [
        InvalidInput("bad"),
        ModelNotFound(ModelRef("m")),
        PayloadTooLarge(),
        UpstreamError.from_status(grpc.StatusCode.INTERNAL, "boom"),
    ]

    assert [(type(e).__name__, e.status_code, e.code) for e in errors] == [
        ("InvalidInput", 400, "invalid_argument"),
        ("ModelNotFound", 404, "not_found"),
        ("PayloadTooLarge", 413, "payload_too_large"),
        ("UpstreamError", 502, "internal"),
    ]
    assert all(isinstance(e, GatewayError) for e in errors)


def test_invalid_input_keeps_its_message_and_has_no_headers():
    error = InvalidInput("Missing 'inputs' or 'instances' key")

    assert error.message == "Missing 'inputs' or 'instances' key"
    assert str(error) == "Missing 'inputs' or 'instances' key"
    assert error.headers == {}


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (ModelRef("nope"), "Servable not found for request: Latest(nope)"),
        (ModelRef("nope", version=3), "Servable not found for request: Specific(nope, 3)"),
        (ModelRef("nope", label="canary"), "Unrecognized servable version label: canary"),
    ],
)
def test_model_not_found_words_the_spec_as_tf_serving_predict_does(ref, message):
    assert ModelNotFound(ref).message == message


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (ModelRef("nope"), "Could not find any versions of model nope"),
        (ModelRef("nope", version=3), "Could not find version 3 of model nope"),
        (ModelRef("nope", label="canary"), "Could not find any versions of model nope"),
    ],
)
def test_model_not_found_for_status_words_it_as_tf_serving_get_model_status(ref, message):
    assert ModelNotFound(ref, for_status=True).message == message


def test_upstream_error_passes_the_model_servers_message_through():
    error = UpstreamError.from_status(
        grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(nope)"
    )

    assert (error.status_code, error.code, error.message) == (
        404,
        "not_found",
        "Servable not found for request: Latest(nope)",
    )
    assert error.grpc_code is grpc.StatusCode.NOT_FOUND
    assert error.headers == {}


def test_tensorflows_graph_node_decorations_are_kept_from_the_client():
    details = (
        "Feature: petal_width (data type: float) is required but could not be found.\n"
        "\t [[{{node ParseExample/ParseExampleV2}}]]"
    )

    error = UpstreamError.from_status(grpc.StatusCode.INVALID_ARGUMENT, details)

    assert error.message == (
        "Feature: petal_width (data type: float) is required but could not be found."
    )
    assert error.details == details


def test_tf1_session_decorations_and_input_hints_are_kept_from_the_client():
    details = (
        "assertion failed: [x must be positive]\n"
        "\t [[node Assert (defined at model.py:12) ]]\n\n"
        "Errors may have originated from an input operation.\n"
        "Input Source operations connected to node Assert:\n x (defined at model.py:10)"
    )

    error = UpstreamError.from_status(grpc.StatusCode.INVALID_ARGUMENT, details)

    assert error.message == "assertion failed: [x must be positive]"


def test_unavailable_upstream_error_hides_addresses_and_asks_to_retry_after_a_second():
    details = "failed to connect to all addresses; last error: ipv4:10.1.2.3:8500: refused"

    error = UpstreamError.from_status(grpc.StatusCode.UNAVAILABLE, details)

    assert error.status_code == 503
    assert error.message == "The model server is unavailable; retry later"
    assert error.headers == {"Retry-After": "1"}
    assert error.details == details


def test_deadline_exceeded_upstream_error_is_a_504_with_a_fixed_message():
    error = UpstreamError.from_status(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")

    assert (error.status_code, error.code, error.message) == (
        504,
        "deadline_exceeded",
        "The model server did not answer before the deadline",
    )


def test_upstream_error_is_built_from_a_real_rpc_error():
    # Nothing listens on port 1: the call fails locally with UNAVAILABLE.
    with grpc.insecure_channel("127.0.0.1:1") as channel:
        call = channel.unary_unary("/tensorflow.serving.PredictionService/Predict")
        with pytest.raises(grpc.RpcError) as caught:
            call(b"", timeout=5)

    error = UpstreamError(caught.value)

    assert (error.grpc_code, error.status_code, error.code) == (
        grpc.StatusCode.UNAVAILABLE,
        503,
        "unavailable",
    )
    assert "Traceback" not in error.message


def test_tf_servings_unknown_label_error_becomes_a_404_like_an_unknown_model():
    error = UpstreamError.from_status(
        grpc.StatusCode.INVALID_ARGUMENT, "Unrecognized servable version label: canary"
    )

    assert (error.status_code, error.code, error.message) == (
        404,
        "not_found",
        ModelNotFound(ModelRef("m", label="canary")).message,
    )
    assert error.grpc_code is grpc.StatusCode.INVALID_ARGUMENT
