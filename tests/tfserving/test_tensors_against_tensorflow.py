"""tensors.py and the codec against TensorFlow's own conversion (make_tensor_proto, C++ protos)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.tfserving.builders import INT8, INT16, STRING, UINT8, signatures
from tfserving.codec import parse_predict_request
from tfserving.protos import tensor_pb2
from tfserving.tensors import (
    DTYPES,
    array_from_tensor_proto,
    shape_proto,
    tensor_proto_from_array,
)

NUMERIC_DTYPES = sorted(enum for enum in DTYPES if enum != STRING)
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)


@st.composite
def numeric_arrays(draw) -> tuple[int, np.ndarray]:
    dtype = draw(st.sampled_from(NUMERIC_DTYPES))
    numpy_type = DTYPES[dtype].numpy
    return dtype, draw(hnp.arrays(numpy_type, SHAPES))


@st.composite
def string_arrays(draw) -> np.ndarray:
    shape = draw(SHAPES)
    values = draw(
        st.lists(st.binary(max_size=8), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))
    )
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array.reshape(shape)


def assert_same_array(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    if actual.dtype.kind == "f":
        # Compare bit patterns: NaN payloads and -0.0 must survive too.
        np.testing.assert_array_equal(
            actual.view(f"u{actual.itemsize}"), expected.view(f"u{expected.itemsize}")
        )
    else:
        np.testing.assert_array_equal(actual, expected)


@settings(max_examples=300, deadline=None)
@given(numeric_arrays())
def test_tensorflow_reads_our_numeric_protos_as_the_original_array(case):
    dtype, array = case

    proto = tensor_proto_from_array(array, dtype)

    reference = tf.make_tensor_proto(array)
    assert proto.dtype == reference.dtype
    assert proto.tensor_shape == reference.tensor_shape
    assert_same_array(tf.make_ndarray(proto), array)


@settings(max_examples=300, deadline=None)
@given(numeric_arrays())
def test_we_read_tensorflows_numeric_protos_as_tensorflow_does(case):
    _, array = case
    reference = tf.make_tensor_proto(array)  # tensor_content, or typed fields for some types

    assert_same_array(array_from_tensor_proto(reference), tf.make_ndarray(reference))


@settings(max_examples=300, deadline=None)
@given(numeric_arrays(), st.data())
def test_we_read_typed_value_fields_with_tensorflows_padding_rule(case, data):
    dtype, array = case
    info = DTYPES[dtype]
    count = data.draw(st.integers(min_value=0, max_value=array.size), label="values sent")
    values = array.ravel()[:count]
    proto = tensor_pb2.TensorProto(dtype=dtype, tensor_shape=shape_proto(array.shape))
    if info.value_field == "half_val":
        proto.half_val.extend(values.view(np.uint16).tolist())
    else:
        getattr(proto, info.value_field).extend(values.tolist())

    assert_same_array(array_from_tensor_proto(proto), tf.make_ndarray(proto))


@settings(max_examples=200, deadline=None)
@given(string_arrays())
def test_string_tensors_agree_with_tensorflow_both_ways(array):
    ours = tensor_proto_from_array(array, STRING)
    reference = tf.make_tensor_proto(array, dtype=tf.string)

    assert ours.dtype == reference.dtype
    assert ours.tensor_shape == reference.tensor_shape
    assert list(ours.string_val) == list(reference.string_val)
    assert tf.make_ndarray(ours).tolist() == array.tolist()
    assert array_from_tensor_proto(reference).tolist() == tf.make_ndarray(reference).tolist()


@settings(max_examples=100, deadline=None)
@given(string_arrays(), st.data())
def test_short_string_value_lists_are_padded_as_tensorflow_pads_them(array, data):
    count = data.draw(st.integers(min_value=min(1, array.size), max_value=array.size))
    proto = tensor_pb2.TensorProto(dtype=STRING, tensor_shape=shape_proto(array.shape))
    proto.string_val.extend(array.ravel()[:count].tolist())

    assert array_from_tensor_proto(proto).tolist() == tf.make_ndarray(proto).tolist()


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from([INT8, INT16, UINT8]),
    st.lists(st.integers(min_value=-(2**31), max_value=2**31 - 1), min_size=1, max_size=8),
)
def test_small_integers_wrap_as_tensorflow_reads_tf_servings_int_val(dtype, numbers):
    # TF Serving's REST layer puts any int32 into int_val; TensorFlow's C++ Tensor::FromProto
    # (tf.io.parse_tensor) narrows it. The codec's tensor must hold the same values.
    tf_serving_proto = tensor_pb2.TensorProto(dtype=dtype, tensor_shape=shape_proto([len(numbers)]))
    tf_serving_proto.int_val.extend(numbers)
    expected = tf.io.parse_tensor(
        tf_serving_proto.SerializeToString(), tf.dtypes.as_dtype(dtype)
    ).numpy()

    ours = parse_predict_request({"inputs": numbers}, signatures({"v": (dtype, None)}))

    assert_same_array(array_from_tensor_proto(ours.tensors["v"]), expected)
