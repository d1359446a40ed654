"""render_predict_response + jsonio.dumps: TF Serving's response shapes (json_tensor_test.cc)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tfserving.builders import FLOAT, predict_response, shape_proto
from tfserving import jsonio
from tfserving.codec import render_predict_response
from tfserving.errors import InvalidInput
from tfserving.protos import predict_pb2, tensor_pb2, types_pb2


def rendered(response: predict_pb2.PredictResponse, columnar: bool) -> object:
    """The response body as a client parses it."""
    return jsonio.loads(jsonio.dumps(render_predict_response(response, columnar)))


def strings(values: list[bytes], shape: tuple[int, ...]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array.reshape(shape)


INT_TENSOR = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2], np.int32).reshape(2, 3, 2)


def test_one_output_is_written_without_its_name_in_both_formats():
    response = predict_response(int_tensor=INT_TENSOR)

    assert rendered(response, columnar=False) == {
        "predictions": [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]]
    }
    assert rendered(response, columnar=True) == {
        "outputs": [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]]
    }


def test_one_vector_output_is_a_plain_list():
    response = predict_response(int_tensor=np.array([1, 2, 3, 4, 5], np.int32))

    assert jsonio.dumps(render_predict_response(response, columnar=False)) == (
        b'{"predictions":[1,2,3,4,5]}'
    )


def test_several_outputs_become_one_object_per_row_or_one_object_of_columns():
    response = predict_response(
        int_tensor=INT_TENSOR,
        str_tensor=strings([b"foo", b"bar", b"baz", b"bat"], (2, 2)),
        float_tensor=np.array([[1.0], [2.0]], np.float32),
        double_scalar_tensor=np.array([8.0, 9.0], np.float64),
        str_tensor_bytes=strings([b"hello", b"world", b"tf", b"serving"], (2, 2)),
    )

    assert rendered(response, columnar=False) == {
        "predictions": [
            {
                "double_scalar_tensor": 8.0,
                "float_tensor": [1.0],
                "int_tensor": [[1, 2], [3, 4], [5, 6]],
                "str_tensor": ["foo", "bar"],
                "str_tensor_bytes": [{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}],
            },
            {
                "double_scalar_tensor": 9.0,
                "float_tensor": [2.0],
                "int_tensor": [[7, 8], [9, 0], [1, 2]],
                "str_tensor": ["baz", "bat"],
                "str_tensor_bytes": [{"b64": "dGY="}, {"b64": "c2VydmluZw=="}],
            },
        ]
    }
    assert rendered(response, columnar=True) == {
        "outputs": {
            "double_scalar_tensor": [8.0, 9.0],
            "float_tensor": [[1.0], [2.0]],
            "int_tensor": [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 0], [1, 2]]],
            "str_tensor": [["foo", "bar"], ["baz", "bat"]],
            "str_tensor_bytes": [
                [{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}],
                [{"b64": "dGY="}, {"b64": "c2VydmluZw=="}],
            ],
        }
    }


def test_outputs_are_written_in_name_order():
    response = predict_response(b=np.array([1], np.int32), a=np.array([2], np.int32))

    assert jsonio.dumps(render_predict_response(response, columnar=True)) == (
        b'{"outputs":{"a":[2],"b":[1]}}'
    )


def test_only_outputs_named_bytes_are_base64_other_strings_are_text():
    response = predict_response(
        label=strings([b"positive"], (1,)), text_bytes=strings([b"great movie"], (1,))
    )

    assert rendered(response, columnar=False) == {
        "predictions": [{"label": "positive", "text_bytes": {"b64": "Z3JlYXQgbW92aWU="}}]
    }


def test_strings_that_are_not_utf8_are_written_with_replacement_characters():
    response = predict_response(label=strings([b"ok\xff"], (1,)))

    assert rendered(response, columnar=True) == {"outputs": ["ok\ufffd"]}


def test_floats_are_written_shortest_that_round_trips_as_float32():
    response = predict_response(y=np.array([0.1, 2.0, 1e-5, 9000000, 555557.5], np.float32))

    assert jsonio.dumps(render_predict_response(response, columnar=False)) == (
        b'{"predictions":[0.1,2.0,0.00001,9000000.0,555557.5]}'
    )


def test_non_finite_floats_are_written_as_tokens():
    response = predict_response(y=np.array([[np.nan, np.inf], [3.0, -np.inf]], np.float32))

    assert jsonio.dumps(render_predict_response(response, columnar=False)) == (
        b'{"predictions":[[NaN,Infinity],[3.0,-Infinity]]}'
    )


def test_typed_value_fields_are_rendered_like_tensor_content():
    proto = tensor_pb2.TensorProto(dtype=FLOAT, tensor_shape=shape_proto((2, 2)))
    proto.float_val.extend([1.5, 2.5, 3.5])  # the last value repeats, as in TensorFlow

    assert rendered(predict_response(y=proto), columnar=True) == {
        "outputs": [[1.5, 2.5], [3.5, 3.5]]
    }


def test_scalar_output_is_a_bare_value_in_columnar_format():
    response = predict_response(y=np.array(4.5, np.float32))

    assert jsonio.dumps(render_predict_response(response, columnar=True)) == b'{"outputs":4.5}'


def test_scalar_output_cannot_be_written_in_row_format():
    response = predict_response(y=np.array(4.5, np.float32))

    with pytest.raises(InvalidInput) as caught:
        render_predict_response(response, columnar=False)

    assert caught.value.message == "Tensor name: y has no shape information "


def test_row_format_needs_one_batch_size_for_every_output():
    response = predict_response(
        int_tensor=np.zeros((2, 3), np.int32), str_tensor=strings([b"a", b"b", b"c"], (1, 3))
    )

    with pytest.raises(InvalidInput) as caught:
        render_predict_response(response, columnar=False)

    assert caught.value.message == (
        "Tensor name: str_tensor has inconsistent batch size: 1 expecting: 2"
    )
    assert rendered(response, columnar=True) == {
        "outputs": {"int_tensor": [[0, 0, 0], [0, 0, 0]], "str_tensor": [["a", "b", "c"]]}
    }


def test_empty_batches_render_as_empty_predictions():
    single = predict_response(int_tensor=np.zeros((0, 2), np.int32))
    several = predict_response(
        str_tensor=strings([], (0, 1, 2)), float_tensor=np.zeros((0, 3, 4), np.float32)
    )

    assert rendered(single, columnar=False) == {"predictions": []}
    assert rendered(several, columnar=False) == {"predictions": []}


def test_no_outputs_is_an_error_worded_as_tf_serving():
    with pytest.raises(InvalidInput) as caught:
        render_predict_response(predict_pb2.PredictResponse(), columnar=False)

    assert caught.value.message == "Cannot convert empty tensor map to JSON"


def test_unsupported_output_type_is_an_error_worded_as_tf_serving():
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_COMPLEX64, tensor_shape=shape_proto((2,)))
    proto.scomplex_val.extend([1.0, 2.0])

    with pytest.raises(InvalidInput) as caught:
        render_predict_response(predict_response(tensor=proto), columnar=False)

    assert caught.value.message == "Failed to write JSON value for tensor type: complex64"


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.array([True, False]), [True, False]),
        (np.array([-128, 127], np.int8), [-128, 127]),
        (np.array([2**64 - 1], np.uint64), [2**64 - 1]),
        (np.array([1.5, -0.25], np.float16), [1.5, -0.25]),
        (np.array([0.1], np.float64), [0.1]),
    ],
)
def test_every_numeric_dtype_is_written_as_json_numbers_or_booleans(array, expected):
    assert rendered(predict_response(v=array), columnar=True) == {"outputs": expected}


def test_string_output_with_int_dtype_name_suffix_rule_applies_only_to_strings():
    response = predict_response(count_bytes=np.array([3], np.int32))

    assert rendered(response, columnar=True) == {"outputs": [3]}
