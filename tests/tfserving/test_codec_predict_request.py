"""parse_predict_request: TF Serving's row/columnar rules (json_tensor.cc), never stricter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.tfserving.builders import (
    BOOL,
    DOUBLE,
    FLOAT,
    HALF,
    INT8,
    INT16,
    INT32,
    INT64,
    STRING,
    UINT8,
    UINT32,
    UINT64,
    signatures,
)
from tfserving import jsonio
from tfserving.codec import PredictInputs, parse_predict_request
from tfserving.errors import InvalidInput
from tfserving.tensors import array_from_tensor_proto

SINGLE_INT = signatures({"default": (INT32, None)})
SINGLE_FLOAT = signatures({"x": (FLOAT, (-1,))})
# TF Serving's own half_plus_two (saved_model_half_plus_two_cpu): x is [-1,1].
TF_SERVING_HALF_PLUS_TWO = signatures({"x": (FLOAT, (-1, 1))})
IMAGE = signatures({"image": (FLOAT, (-1, 28, 28, 1))})
MIXED = signatures(
    {
        "int_tensor": (INT32, None),
        "str_tensor": (STRING, None),
        "float_tensor": (FLOAT, None),
        "dbl_tensor": (DOUBLE, None),
    }
)


def parse(body: bytes | str, sigs=SINGLE_INT) -> PredictInputs:
    return parse_predict_request(jsonio.loads(body), sigs)


def values(inputs: PredictInputs, name: str) -> tuple[int, tuple[int, ...], list]:
    proto = inputs.tensors[name]
    array = array_from_tensor_proto(proto)
    return proto.dtype, array.shape, array.ravel().tolist()


def error(body: bytes | str, sigs=SINGLE_INT) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse(body, sigs)
    return caught.value.message


# -- formats ------------------------------------------------------------------


def test_row_format_single_unnamed_input_batches_the_instances():
    inputs = parse(b'{"instances": [[1, 2], [3, 4], [5, 6]]}')

    assert (inputs.columnar, inputs.signature_name) == (False, "serving_default")
    assert values(inputs, "default") == (INT32, (3, 2), [1, 2, 3, 4, 5, 6])


def test_signature_name_is_taken_from_the_body():
    sigs = signatures({"x": (INT32, None)}, extra={"predict_images": {"default": (INT32, None)}})

    inputs = parse(b'{"signature_name": "predict_images", "instances": [[1, 2]]}', sigs)

    assert inputs.signature_name == "predict_images"
    assert values(inputs, "default") == (INT32, (1, 2), [1, 2])


def test_mixed_ints_and_decimals_are_accepted_for_float_inputs():
    inputs = parse(b'{"instances": [1, 2.0, 3, 4, 5.003, 0.007, 0.0]}', SINGLE_FLOAT)

    assert values(inputs, "x") == (
        FLOAT,
        (7,),
        np.array([1, 2.0, 3, 4, 5.003, 0.007, 0.0], np.float32).tolist(),
    )


def test_numbers_beyond_float_range_become_infinity_and_tiny_ones_zero():
    inputs = parse(b'{"instances": [1.7976931348623157e308, -1.7e308, 2.2e-308]}', SINGLE_FLOAT)

    assert values(inputs, "x")[2] == [math.inf, -math.inf, 0.0]


def test_non_finite_tokens_are_accepted_for_float_inputs():
    inputs = parse(b'{"instances": [NaN, Infinity, -Infinity]}', SINGLE_FLOAT)

    result = values(inputs, "x")[2]
    assert math.isnan(result[0]) and result[1:] == [math.inf, -math.inf]


def test_row_format_named_inputs_batch_each_name_separately():
    body = """{"instances": [
        {"int_tensor": [[1,2],[3,4],[5,6]], "str_tensor": ["foo", "bar"],
         "float_tensor": [1.0, NaN], "dbl_tensor": [NaN]},
        {"int_tensor": [[7,8],[9,0],[1,2]], "str_tensor": ["baz", "bat"],
         "float_tensor": [2.0, Infinity], "dbl_tensor": [2.0]}
    ]}"""

    inputs = parse(body, MIXED)

    assert values(inputs, "int_tensor") == (INT32, (2, 3, 2), [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2])
    assert values(inputs, "str_tensor") == (STRING, (2, 2), [b"foo", b"bar", b"baz", b"bat"])
    float_dtype, float_shape, float_values = values(inputs, "float_tensor")
    assert (float_dtype, float_shape) == (FLOAT, (2, 2))
    assert (
        float_values[0] == 1.0
        and math.isnan(float_values[1])
        and float_values[2:] == [2.0, math.inf]
    )
    assert values(inputs, "dbl_tensor")[:2] == (DOUBLE, (2, 1))


def test_row_format_with_one_input_may_name_it():
    inputs = parse(b'{"instances": [{"default": [[1, 2]]}]}')

    assert values(inputs, "default") == (INT32, (1, 1, 2), [1, 2])


def test_columnar_format_names_each_input_and_keeps_its_own_batch_size():
    body = b"""{"inputs": {"int_tensor": [[[1,2],[3,4],[5,6]]], "str_tensor": ["foo", "bar"],
                "float_tensor": 1.5, "dbl_tensor": []}}"""

    inputs = parse(body, MIXED)

    assert inputs.columnar is True
    assert values(inputs, "int_tensor") == (INT32, (1, 3, 2), [1, 2, 3, 4, 5, 6])
    assert values(inputs, "str_tensor") == (STRING, (2,), [b"foo", b"bar"])
    assert values(inputs, "float_tensor") == (FLOAT, (), [1.5])
    assert values(inputs, "dbl_tensor") == (DOUBLE, (0,), [])


def test_columnar_format_with_one_input_may_leave_out_the_name():
    inputs = parse(b'{"inputs": [[[1,2],[3,4],[5,6]]]}')

    assert values(inputs, "default") == (INT32, (1, 3, 2), [1, 2, 3, 4, 5, 6])


def test_b64_objects_are_decoded_for_string_inputs_in_every_position():
    sigs = signatures({"default": (STRING, None)})

    scalars = parse(b'{"instances": [{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}]}', sigs)
    lists = parse(b'{"instances": [[{"b64": "aGVsbG8="}], [{"b64": "d29ybGQ="}]]}', sigs)
    named = parse(
        b'{"instances": [{"default": [[{"b64": "aGVsbG8="}], [{"b64": "d29ybGQ="}]]}]}', sigs
    )
    columnar = parse(b'{"inputs": {"b64": "aGVsbG8="}}', sigs)

    assert values(scalars, "default") == (STRING, (2,), [b"hello", b"world"])
    assert values(lists, "default") == (STRING, (2, 1), [b"hello", b"world"])
    assert values(named, "default") == (STRING, (1, 2, 1), [b"hello", b"world"])
    assert values(columnar, "default") == (STRING, (), [b"hello"])


def test_b64_without_padding_is_accepted_as_tf_serving_accepts_it():
    inputs = parse(b'{"inputs": [{"b64": "aGVsbG8"}]}', signatures({"s": (STRING, None)}))

    assert values(inputs, "s")[2] == [b"hello"]


def test_binary_bytes_survive_b64():
    inputs = parse(b'{"inputs": [{"b64": "/wAB"}]}', signatures({"s": (STRING, None)}))

    assert values(inputs, "s")[2] == [b"\xff\x00\x01"]


def test_plain_strings_are_utf8_encoded():
    inputs = parse('{"inputs": ["héllo"]}'.encode(), signatures({"s": (STRING, None)}))

    assert values(inputs, "s")[2] == ["héllo".encode()]


@pytest.mark.parametrize(
    ("dtype", "body", "expected"),
    [
        (HALF, b"[0.5, 65504, 1e6]", [0.5, 65504.0, math.inf]),
        (DOUBLE, b"[0.1, 1]", [0.1, 1.0]),
        (INT8, b"[-128, 127]", [-128, 127]),
        (INT16, b"[-32768, 32767]", [-32768, 32767]),
        (INT64, b"[-9223372036854775808, 9223372036854775807]", [-(2**63), 2**63 - 1]),
        (UINT8, b"[0, 255]", [0, 255]),
        (UINT32, b"[0, 4294967295]", [0, 2**32 - 1]),
        (UINT64, b"[0, 18446744073709551615]", [0, 2**64 - 1]),
        (BOOL, b"[true, false]", [True, False]),
    ],
)
def test_every_numeric_dtype_converts_at_its_limits(dtype, body, expected):
    inputs = parse(b'{"inputs": ' + body + b"}", signatures({"v": (dtype, (-1,))}))

    assert values(inputs, "v") == (dtype, (len(expected),), expected)


def test_numeric_inputs_become_tensor_content():
    inputs = parse(b'{"instances": [1.5, 2.5]}', SINGLE_FLOAT)

    assert inputs.tensors["x"].tensor_content == np.array([1.5, 2.5], "<f4").tobytes()


# -- document-level errors (TF Serving's messages) ---------------------------


def test_body_that_is_not_an_object_is_refused():
    assert error(b"[1, 2]") == "JSON Value: [1,2] Is not object"


def test_signature_name_must_be_a_string():
    assert error(b'{"signature_name": 5, "instances": [1]}') == (
        "JSON Value: 5 not formatted correctly. 'signature_name' key must be a string value."
    )


def test_unknown_signature_name_is_refused_before_any_call():
    assert error(b'{"signature_name": "nope", "instances": [1]}') == (
        'Serving signature name: "nope" not found in signature def'
    )


def test_both_instances_and_inputs_is_refused():
    assert error(b'{"instances": [[1,2]], "inputs": [[1,2]]}') == (
        "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist"
    )


def test_neither_instances_nor_inputs_is_refused():
    assert error(b'{"signature_name": "serving_default"}') == "Missing 'inputs' or 'instances' key"


def test_instances_must_be_a_non_empty_list():
    assert error(b'{"instances": {"default": 1}}') == "Expecting 'instances' to be an list/array"
    assert error(b'{"instances": []}') == "No values in 'instances' array"


def test_signature_without_inputs_is_refused():
    assert error(b'{"instances": [1]}', signatures({})) == (
        "Failed to get input map for signature: serving_default"
    )


# -- names --------------------------------------------------------------------


def test_plain_instances_for_a_signature_with_several_inputs_are_refused_naming_them():
    sigs = signatures({"a": (FLOAT, (-1,)), "b": (STRING, (-1,))})

    assert error(b'{"instances": [1, 2]}', sigs) == (
        "instances is a plain list, but expecting list of objects as multiple input tensors "
        "required as per tensorinfo_map: a (float tensor of shape [-1]), "
        "b (string tensor of shape [-1])"
    )


def test_plain_inputs_for_a_signature_with_several_inputs_are_refused_naming_them():
    sigs = signatures({"a": (FLOAT, (-1,)), "b": (STRING, (-1,))})

    assert error(b'{"inputs": [1, 2]}', sigs) == (
        "inputs is a plain value/list, but expecting an object as multiple input tensors "
        "required as per tensorinfo_map: a (float tensor of shape [-1]), "
        "b (string tensor of shape [-1])"
    )


def test_unknown_input_name_in_columnar_format_is_ignored_as_tf_serving_ignores_it():
    inputs = parse(b'{"inputs": {"x": [1.0], "y": [2.0]}}', SINGLE_FLOAT)

    assert list(inputs.tensors) == ["x"]
    assert values(inputs, "x") == (FLOAT, (1,), [1.0])


def test_misnamed_input_in_columnar_format_is_refused_as_missing_naming_the_stray_key():
    assert error(b'{"inputs": {"z": [1.0]}}', SINGLE_FLOAT) == (
        "Missing named input: x in 'inputs' object. Input 'x' expects float tensor of shape "
        "[-1]; the object names z, which signature 'serving_default' does not have"
    )


def test_unknown_input_name_in_row_format_is_refused_naming_the_element():
    assert error(b'{"instances": [{"x": 1.0}, {"x": 2.0, "z": 1}]}', SINGLE_FLOAT) == (
        "Failed to process element: 1 key: z of 'instances' list. Error: JSON object: does not "
        "have named input: z. Signature 'serving_default' has inputs: "
        "x (float tensor of shape [-1])"
    )


def test_missing_input_in_columnar_format_is_refused_with_what_it_expects():
    sigs = signatures({"a": (FLOAT, (-1,)), "b": (INT64, (-1, 2))})

    assert error(b'{"inputs": {"a": [1.0]}}', sigs) == (
        "Missing named input: b in 'inputs' object. Input 'b' expects int64 tensor of shape [-1,2]"
    )


def test_instance_missing_an_input_is_refused_as_batch_sizes_would_disagree():
    sigs = signatures({"a": (FLOAT, (-1,)), "b": (INT64, (-1,))})

    assert error(b'{"instances": [{"a": 1.0, "b": 1}, {"a": 2.0}]}', sigs) == (
        "Failed to process element: 1 of 'instances' list. JSON object keys must be equal to: "
        "a,b. Missing: b (int64 tensor of shape [-1])"
    )


def test_mixing_objects_and_lists_in_instances_is_refused():
    assert (
        error(
            b'{"instances": [{"int_tensor": [1], "str_tensor": ["a"], "float_tensor": 1.0, '
            b'"dbl_tensor": 1.0}, [1, 20, 30]]}',
            MIXED,
        )
        == "Expecting object but got list at item 1 of input list"
    )
    assert error(b'{"instances": [["baz", "bar"], {"default": ["baz"]}]}') == (
        "Expecting value/list but got object at item 1 of input list"
    )


# -- values -------------------------------------------------------------------


def test_ragged_list_is_refused_pointing_at_the_odd_element():
    assert error(b'{"instances": [[1,2],[3,4],[5,6,7]]}') == (
        "Input 'default' expects int32 tensor of shape <unknown>; got a ragged list: "
        "instances[2] has 3 elements where 2 were expected"
    )


def test_list_where_a_value_was_expected_is_refused_as_ragged():
    assert error(b'{"instances": [[1,2],[3,4],[[5,6]]]}') == (
        "Input 'default' expects int32 tensor of shape <unknown>; got a ragged list: "
        "instances[2] has 1 elements where 2 were expected"
    )
    assert error(b'{"instances": [[1,2],[3,[4]]]}') == (
        "Input 'default' expects int32 tensor of shape <unknown>; got a ragged list: "
        "instances[1][1] is a list where a single value was expected"
    )
    assert error(b'{"instances": [1, [1]]}') == (
        "Input 'default' expects int32 tensor of shape <unknown>; got a ragged list: "
        "instances[1] is a list where a single value was expected"
    )


def test_value_where_a_list_was_expected_is_refused_as_ragged():
    assert error(b'{"inputs": {"x": [[1.0], 2.0]}}', signatures({"x": (FLOAT, None)})) == (
        "Input 'x' expects float tensor of shape <unknown>; got a ragged list: "
        "inputs.x[1] is a single value where a list of 1 was expected"
    )


def test_ragged_named_row_input_points_into_the_instance():
    assert error(
        b'{"instances": [{"x": [1.0, 2.0]}, {"x": [3.0]}]}', signatures({"x": (FLOAT, None)})
    ) == (
        "Input 'x' expects float tensor of shape <unknown>; got a ragged list: "
        "instances[1].x has 1 elements where 2 were expected"
    )


def test_tf_serving_hello_world_is_accepted_although_the_signature_says_minus_1_by_1():
    # The first example of TF Serving's README: x is [-1,1], the instances are scalars.
    inputs = parse(b'{"instances": [1.0, 2.0, 5.0]}', TF_SERVING_HALF_PLUS_TWO)

    assert values(inputs, "x") == (FLOAT, (3,), [1.0, 2.0, 5.0])


def test_columnar_hello_world_is_accepted_with_its_own_shape():
    inputs = parse(b'{"inputs": {"x": [1.0, 2.0, 5.0]}}', TF_SERVING_HALF_PLUS_TWO)

    assert values(inputs, "x") == (FLOAT, (3,), [1.0, 2.0, 5.0])


@pytest.mark.parametrize(
    ("body", "shape"),
    [
        (b'{"instances": [[1.0, 2.0]]}', (1, 2)),
        (b'{"inputs": 1.0}', ()),
        (b'{"inputs": [[[1.0]]]}', (1, 1, 1)),
    ],
)
def test_shapes_are_left_to_the_model_as_tf_serving_leaves_them(body, shape):
    inputs = parse(body, SINGLE_FLOAT)

    assert values(inputs, "x")[:2] == (FLOAT, shape)


def test_fixed_dimensions_are_left_to_the_model():
    image = np.zeros((2, 28, 27, 1)).tolist()

    inputs = parse(jsonio.dumps({"inputs": {"image": image}}), IMAGE)

    assert values(inputs, "image")[:2] == (FLOAT, (2, 28, 27, 1))


def test_matching_fixed_dimensions_are_accepted():
    inputs = parse(jsonio.dumps({"instances": np.zeros((3, 28, 28, 1))}), IMAGE)

    assert values(inputs, "image")[:2] == (FLOAT, (3, 28, 28, 1))


def test_string_where_a_number_is_expected_is_refused_with_its_position():
    assert error(b'{"instances": [[1,2],["a", "b"]]}') == (
        "Input 'default' expects int32 tensor of shape <unknown>; instances[1][0]: "
        'JSON Value: "a" Type: String is not of expected type: int32'
    )


def test_booleans_are_refused_for_numeric_inputs():
    assert error(b'{"inputs": {"x": [1.0, true]}}', SINGLE_FLOAT) == (
        "Input 'x' expects float tensor of shape [-1]; inputs.x[1]: "
        "JSON Value: true Type: True is not of expected type: float"
    )


def test_numbers_are_refused_for_bool_inputs():
    assert error(b'{"inputs": [1, 0]}', signatures({"b": (BOOL, (-1,))})) == (
        "Input 'b' expects bool tensor of shape [-1]; inputs[0]: "
        "JSON Value: 1 Type: Number is not of expected type: bool"
    )


def test_null_and_objects_are_refused_for_numeric_inputs():
    assert error(b'{"instances": [1.0, null]}', SINGLE_FLOAT) == (
        "Input 'x' expects float tensor of shape [-1]; instances[1]: "
        "JSON Value: null Type: Null is not of expected type: float"
    )
    assert error(b'{"instances": [{"b64": "AA=="}]}', SINGLE_FLOAT) == (
        "Input 'x' expects float tensor of shape [-1]; instances[0]: "
        'JSON Value: {"b64":"AA=="} Type: Object is not of expected type: float'
    )


def test_decimals_are_refused_for_integer_inputs_as_tf_serving_does():
    assert error(b'{"instances": [1, 2.0]}') == (
        "Input 'default' expects int32 tensor of shape <unknown>; instances[1]: "
        "JSON Value: 2.0 Type: Number is not of expected type: int32"
    )


@pytest.mark.parametrize(
    ("dtype", "body", "expected"),
    [
        (INT8, b"[127, 128, 200, -129, 2147483647]", [127, -128, -56, 127, -1]),
        (INT16, b"[40000, -32769]", [-25536, 32767]),
        (UINT8, b"[-1, 256, -2147483648]", [255, 0, 0]),
    ],
)
def test_small_integer_types_take_any_int32_and_wrap_as_tensorflow_does(dtype, body, expected):
    inputs = parse(b'{"inputs": ' + body + b"}", signatures({"v": (dtype, None)}))

    assert values(inputs, "v") == (dtype, (len(expected),), expected)


@pytest.mark.parametrize(
    ("dtype", "body", "message"),
    [
        (
            INT8,
            b"[1, 2147483648]",
            "int8 tensor of shape <unknown>; inputs[1]: JSON Value: 2147483648 is out of range for "
            "int8 [-2147483648, 2147483647] (int32 values are accepted and wrap around, as in "
            "TF Serving)",
        ),
        (
            UINT8,
            b"[[0, -2147483649]]",
            "uint8 tensor of shape <unknown>; inputs[0][1]: JSON Value: -2147483649 is out of "
            "range for uint8 [-2147483648, 2147483647] (int32 values are accepted and wrap "
            "around, as in TF Serving)",
        ),
        (
            INT32,
            b"[2147483648]",
            "int32 tensor of shape <unknown>; inputs[0]: JSON Value: 2147483648 is out of range "
            "for int32 [-2147483648, 2147483647]",
        ),
        (
            INT64,
            b"[9223372036854775808]",
            "int64 tensor of shape <unknown>; inputs[0]: JSON Value: 9223372036854775808 is out of "
            "range for int64 [-9223372036854775808, 9223372036854775807]",
        ),
        (
            UINT32,
            b"[-1]",
            "uint32 tensor of shape <unknown>; inputs[0]: JSON Value: -1 is out of range for "
            "uint32 [0, 4294967295]",
        ),
        (
            UINT64,
            b"[-1]",
            "uint64 tensor of shape <unknown>; inputs[0]: JSON Value: -1 is out of range for "
            "uint64 [0, 18446744073709551615]",
        ),
    ],
)
def test_integers_that_tf_serving_cannot_read_as_the_dtype_are_refused(dtype, body, message):
    sigs = signatures({"v": (dtype, None)})

    assert error(b'{"inputs": ' + body + b"}", sigs) == f"Input 'v' expects {message}"


def test_numbers_are_refused_for_string_inputs():
    assert error(b'{"inputs": ["a", 1]}', signatures({"s": (STRING, (-1,))})) == (
        "Input 's' expects string tensor of shape [-1]; inputs[1]: "
        "JSON Value: 1 Type: Number is not of expected type: string"
    )


def test_malformed_b64_objects_are_refused():
    sigs = signatures({"s": (STRING, (-1,))})

    assert error(b'{"inputs": [{"b64": "!!!"}]}', sigs) == (
        "Input 's' expects string tensor of shape [-1]; inputs[0]: Unable to base64 decode"
    )
    assert error(b'{"inputs": [{"b64": "AA==", "x": 1}]}', sigs) == (
        "Input 's' expects string tensor of shape [-1]; inputs[0]: "
        'JSON Value: {"b64":"AA==","x":1} not formatted correctly for base64 data'
    )


def test_long_values_are_shortened_in_messages():
    message = error(
        jsonio.dumps({"inputs": [{"b64": "A" * 1000, "x": 1}]}), signatures({"s": (STRING, None)})
    )

    assert len(message) < 400
    assert "..." in message


def test_unsupported_input_type_is_refused():
    sigs = signatures({"v": (8, (-1,))})  # DT_COMPLEX64

    assert error(b'{"inputs": [1]}', sigs) == (
        "Input 'v' expects complex64 tensor of shape [-1]; the REST API cannot convert that type"
    )


def test_integers_too_big_for_a_double_are_refused_for_float_inputs():
    with pytest.raises(InvalidInput) as caught:
        parse_predict_request({"inputs": [1.0, 10**400]}, SINGLE_FLOAT)

    assert caught.value.message.startswith(
        "Input 'x' expects float tensor of shape [-1]; inputs[1]: JSON Value: 1000000"
    )
    assert caught.value.message.endswith("... is out of range for float")
