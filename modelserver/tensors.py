"""TensorProto <-> numpy inside the server (which, unlike the web tier, may use TensorFlow)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2

DT = types_pb2

# Which typed field TF's Tensor::AsProtoField fills for each dtype. TF Serving answers
# Predict with these fields (not tensor_content), and clients written for it read
# e.g. ``outputs["y"].float_val`` directly, so the server does the same.
_VALUE_FIELDS = {
    DT.DT_FLOAT: "float_val",
    DT.DT_DOUBLE: "double_val",
    DT.DT_INT32: "int_val",
    DT.DT_INT16: "int_val",
    DT.DT_INT8: "int_val",
    DT.DT_UINT8: "int_val",
    DT.DT_UINT16: "int_val",
    DT.DT_INT64: "int64_val",
    DT.DT_UINT32: "uint32_val",
    DT.DT_UINT64: "uint64_val",
    DT.DT_BOOL: "bool_val",
    DT.DT_STRING: "string_val",
}


# numpy dtypes whose tensor_content is the raw little-endian array (no strings, no
# 16-bit floats that TF stores in a different field).
_CONTENT_DTYPES = {
    DT.DT_FLOAT: np.dtype("<f4"),
    DT.DT_DOUBLE: np.dtype("<f8"),
    DT.DT_INT32: np.dtype("<i4"),
    DT.DT_INT64: np.dtype("<i8"),
    DT.DT_INT16: np.dtype("<i2"),
    DT.DT_INT8: np.dtype("i1"),
    DT.DT_UINT8: np.dtype("u1"),
    DT.DT_UINT16: np.dtype("<u2"),
    DT.DT_UINT32: np.dtype("<u4"),
    DT.DT_UINT64: np.dtype("<u8"),
    DT.DT_BOOL: np.dtype("?"),
}


def array_from_proto(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Decode a request tensor (tensor_content or typed fields); raises ValueError if malformed."""
    dtype = _CONTENT_DTYPES.get(proto.dtype)
    if dtype is not None and proto.tensor_content:
        # The common case, decoded without tf.make_ndarray's per-call overhead (measured
        # ~60 us of GIL time per call under load, which caps batched throughput).
        shape = [d.size for d in proto.tensor_shape.dim]
        if len(proto.tensor_content) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise ValueError("tensor_content size does not match the tensor's shape")
        return np.frombuffer(proto.tensor_content, dtype=dtype).reshape(shape)
    try:
        return tf.make_ndarray(proto)
    except (ValueError, TypeError, IndexError) as error:
        raise ValueError(str(error)) from error


def datatype_of(array: np.ndarray) -> int:
    """The TensorFlow DataType of a session output (object arrays hold DT_STRING)."""
    return tf.dtypes.as_dtype(array.dtype).as_datatype_enum


def datatype_name(array: np.ndarray) -> str:
    """DataType_Name, as TF Serving prints dtypes in messages: DT_FLOAT, DT_STRING, ..."""
    return DT.DataType.Name(datatype_of(array))


def fill_proto(target: tensor_pb2.TensorProto, array: np.ndarray) -> None:
    """Encode an output tensor into ``target`` the way TF Serving's Predict does (typed
    *_val fields, as Tensor::AsProtoField)."""
    dtype = datatype_of(array)
    field = _VALUE_FIELDS.get(dtype)
    if field is None:
        target.CopyFrom(tf.make_tensor_proto(array))
        return
    target.dtype = dtype
    for size in array.shape:
        target.tensor_shape.dim.add(size=size)
    getattr(target, field).extend(array.reshape(-1).tolist())
