from __future__ import annotations

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
    UINT16,
    UINT32,
    UINT64,
    shape_proto,
)
from tfserving.protos import tensor_pb2, types_pb2
from tfserving.tensors import (
    array_from_tensor_proto,
    dtype_for_array,
    dtype_name,
    tensor_proto_from_array,
)

NUMERIC = [
    (HALF, np.float16),
    (FLOAT, np.float32),
    (DOUBLE, np.float64),
    (INT8, np.int8),
    (INT16, np.int16),
    (INT32, np.int32),
    (INT64, np.int64),
    (UINT8, np.uint8),
    (UINT16, np.uint16),
    (UINT32, np.uint32),
    (UINT64, np.uint64),
    (BOOL, np.bool_),
]


@pytest.mark.parametrize(("dtype", "numpy_type"), NUMERIC)
def test_numeric_arrays_travel_as_little_endian_tensor_content(dtype, numpy_type):
    array = np.array([[1, 0, 1], [0, 1, 1]], dtype=numpy_type)

    proto = tensor_proto_from_array(array, dtype)

    assert proto.dtype == dtype
    assert [d.size for d in proto.tensor_shape.dim] == [2, 3]
    assert proto.tensor_content == array.astype(array.dtype.newbyteorder("<")).tobytes()
    assert proto.ListFields()[-1][0].name == "tensor_content"


def test_array_dtype_is_converted_to_the_requested_dtype():
    proto = tensor_proto_from_array(np.array([1.5, 2.5], dtype=np.float64), FLOAT)

    assert proto.tensor_content == np.array([1.5, 2.5], dtype="<f4").tobytes()


def test_big_endian_arrays_are_written_little_endian():
    proto = tensor_proto_from_array(np.array([1.0, 2.0], dtype=">f4"))

    assert (proto.dtype, proto.tensor_content) == (FLOAT, np.array([1.0, 2.0], "<f4").tobytes())


def test_strings_travel_as_string_val_and_str_is_utf8_encoded():
    proto = tensor_proto_from_array(np.array([["a", "é"], ["bc", ""]], dtype=object), STRING)

    assert list(proto.string_val) == [b"a", "é".encode(), b"bc", b""]
    assert [d.size for d in proto.tensor_shape.dim] == [2, 2]


def test_dtype_defaults_to_the_arrays_own_type():
    assert tensor_proto_from_array(np.array([1], dtype=np.int16)).dtype == INT16
    assert tensor_proto_from_array(np.array([b"x"])).dtype == STRING


def test_scalar_has_an_empty_shape():
    proto = tensor_proto_from_array(np.float32(2.5))

    assert len(proto.tensor_shape.dim) == 0
    assert array_from_tensor_proto(proto).shape == ()
    assert array_from_tensor_proto(proto)[()] == np.float32(2.5)


def test_unsupported_types_are_refused():
    with pytest.raises(ValueError, match="unsupported tensor type: complex64"):
        tensor_proto_from_array(np.array([1]), types_pb2.DT_COMPLEX64)
    with pytest.raises(ValueError, match="unsupported numpy dtype"):
        dtype_for_array(np.array([1 + 2j]))


@pytest.mark.parametrize(("dtype", "numpy_type"), NUMERIC)
def test_tensor_content_reads_back_into_the_same_array(dtype, numpy_type):
    array = np.arange(12).reshape(3, 4).astype(numpy_type)

    result = array_from_tensor_proto(tensor_proto_from_array(array, dtype))

    assert result.dtype == np.dtype(numpy_type)
    np.testing.assert_array_equal(result, array)


def typed_proto(
    dtype: int, shape: tuple[int, ...], field: str, values: list
) -> tensor_pb2.TensorProto:
    proto = tensor_pb2.TensorProto(dtype=dtype, tensor_shape=shape_proto(shape))
    getattr(proto, field).extend(values)
    return proto


@pytest.mark.parametrize(
    ("dtype", "field", "values", "expected"),
    [
        (FLOAT, "float_val", [1.5, 2.5], np.array([1.5, 2.5], np.float32)),
        (DOUBLE, "double_val", [0.1, 0.2], np.array([0.1, 0.2], np.float64)),
        (INT8, "int_val", [-128, 127], np.array([-128, 127], np.int8)),
        (INT16, "int_val", [-3, 3], np.array([-3, 3], np.int16)),
        (INT32, "int_val", [-3, 3], np.array([-3, 3], np.int32)),
        (UINT8, "int_val", [0, 255], np.array([0, 255], np.uint8)),
        (UINT16, "int_val", [0, 65535], np.array([0, 65535], np.uint16)),
        (INT64, "int64_val", [-(2**63), 2**63 - 1], np.array([-(2**63), 2**63 - 1], np.int64)),
        (UINT32, "uint32_val", [0, 2**32 - 1], np.array([0, 2**32 - 1], np.uint32)),
        (UINT64, "uint64_val", [0, 2**64 - 1], np.array([0, 2**64 - 1], np.uint64)),
        (BOOL, "bool_val", [True, False], np.array([True, False])),
        (HALF, "half_val", [0x3C00, 0xC000], np.array([1.0, -2.0], np.float16)),
        (STRING, "string_val", [b"a", b"\xff"], np.array([b"a", b"\xff"], dtype=object)),
    ],
)
def test_typed_value_fields_are_read_for_every_dtype(dtype, field, values, expected):
    result = array_from_tensor_proto(typed_proto(dtype, (2,), field, values))

    assert result.dtype == expected.dtype
    assert result.tolist() == expected.tolist()


def test_short_value_lists_are_padded_with_the_last_value_as_tensorflow_does():
    result = array_from_tensor_proto(typed_proto(FLOAT, (2, 3), "float_val", [1.0, 2.0]))

    np.testing.assert_array_equal(result, np.array([[1, 2, 2], [2, 2, 2]], np.float32))


def test_no_values_means_zeros():
    result = array_from_tensor_proto(typed_proto(INT32, (2, 2), "int_val", []))

    np.testing.assert_array_equal(result, np.zeros((2, 2), np.int32))


def test_short_string_lists_repeat_the_last_string_and_empty_means_empty_bytes():
    repeated = array_from_tensor_proto(typed_proto(STRING, (3,), "string_val", [b"a", b"b"]))
    empty = array_from_tensor_proto(typed_proto(STRING, (2,), "string_val", []))

    assert repeated.tolist() == [b"a", b"b", b"b"]
    assert empty.tolist() == [b"", b""]


def test_more_values_than_elements_is_an_error():
    with pytest.raises(ValueError, match="3 values for a tensor of 2 elements"):
        array_from_tensor_proto(typed_proto(FLOAT, (2,), "float_val", [1.0, 2.0, 3.0]))


def test_tensor_content_of_the_wrong_size_is_an_error():
    proto = tensor_pb2.TensorProto(
        dtype=FLOAT, tensor_shape=shape_proto((3,)), tensor_content=b"\x00" * 8
    )

    with pytest.raises(ValueError, match="holds 2 values for a tensor of shape"):
        array_from_tensor_proto(proto)


def test_empty_tensors_convert_both_ways():
    array = np.zeros((0, 3), np.float32)

    result = array_from_tensor_proto(tensor_proto_from_array(array))

    assert result.shape == (0, 3)


@pytest.mark.parametrize(
    ("dtype", "name"),
    [
        (FLOAT, "float"),
        (HALF, "half"),
        (STRING, "string"),
        (UINT8, "uint8"),
        (types_pb2.DT_COMPLEX64, "complex64"),
        (types_pb2.DT_RESOURCE, "resource"),
    ],
)
def test_dtype_names_are_tensorflows_short_names(dtype, name):
    assert dtype_name(dtype) == name
