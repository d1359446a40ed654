"""numpy arrays <-> TensorProto, without TensorFlow.

Numeric tensors travel as ``tensor_content`` (the raw little-endian buffer): one
memcpy instead of one protobuf field append per value, which is what makes a
224x224x3 image cheap to send. Strings travel as ``string_val``. Reading accepts
both ``tensor_content`` and the typed ``*_val`` fields, with TensorFlow's rule that
a short value list is padded with its last value (so a constant tensor can be sent
as a single value).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from tfserving.protos import tensor_pb2, tensor_shape_pb2, types_pb2


@dataclass(frozen=True)
class DType:
    """What the gateway knows about one TensorFlow DataType."""

    enum: int
    name: str  # TensorFlow's DataTypeString(), as used in TF Serving's messages
    numpy: np.dtype
    value_field: str  # the TensorProto field for values when tensor_content is not used


def _dtype(enum: int, name: str, numpy_type: str, value_field: str) -> DType:
    return DType(enum, name, np.dtype(numpy_type), value_field)


DTYPES: dict[int, DType] = {
    d.enum: d
    for d in (
        _dtype(types_pb2.DT_HALF, "half", "<f2", "half_val"),
        _dtype(types_pb2.DT_FLOAT, "float", "<f4", "float_val"),
        _dtype(types_pb2.DT_DOUBLE, "double", "<f8", "double_val"),
        _dtype(types_pb2.DT_INT8, "int8", "i1", "int_val"),
        _dtype(types_pb2.DT_INT16, "int16", "<i2", "int_val"),
        _dtype(types_pb2.DT_INT32, "int32", "<i4", "int_val"),
        _dtype(types_pb2.DT_INT64, "int64", "<i8", "int64_val"),
        _dtype(types_pb2.DT_UINT8, "uint8", "u1", "int_val"),
        _dtype(types_pb2.DT_UINT16, "uint16", "<u2", "int_val"),
        _dtype(types_pb2.DT_UINT32, "uint32", "<u4", "uint32_val"),
        _dtype(types_pb2.DT_UINT64, "uint64", "<u8", "uint64_val"),
        _dtype(types_pb2.DT_BOOL, "bool", "?", "bool_val"),
        _dtype(types_pb2.DT_STRING, "string", "O", "string_val"),
    )
}

_DTYPE_BY_NUMPY: dict[np.dtype, DType] = {
    d.numpy.newbyteorder("="): d for d in DTYPES.values() if d.enum != types_pb2.DT_STRING
}


def dtype_info(dtype: int) -> DType:
    """The DType for a DataType enum value; ValueError for types the gateway cannot convert."""
    try:
        return DTYPES[dtype]
    except KeyError:
        raise ValueError(f"unsupported tensor type: {dtype_name(dtype)}") from None


def dtype_name(dtype: int) -> str:
    """TensorFlow's short name for a DataType (``float``, ``int64``, ``string``...)."""
    known = DTYPES.get(dtype)
    if known is not None:
        return known.name
    try:
        return types_pb2.DataType.Name(dtype).removeprefix("DT_").lower()
    except ValueError:
        return f"unknown type {dtype}"


def dtype_for_array(array: np.ndarray) -> int:
    """The DataType matching a numpy array's dtype (object/bytes/str arrays -> DT_STRING)."""
    if array.dtype.kind in "OSU":
        return types_pb2.DT_STRING
    found = _DTYPE_BY_NUMPY.get(array.dtype.newbyteorder("="))
    if found is None:
        raise ValueError(f"unsupported numpy dtype: {array.dtype}")
    return found.enum


def shape_proto(shape: Iterable[int]) -> tensor_shape_pb2.TensorShapeProto:
    return tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=size) for size in shape]
    )


def tensor_proto_from_array(array: np.ndarray, dtype: int | None = None) -> tensor_pb2.TensorProto:
    """A TensorProto holding ``array`` as ``dtype`` (default: the array's own type).

    Numeric values go into ``tensor_content``; DT_STRING values (bytes, or str encoded
    as UTF-8) into ``string_val``.
    """
    array = np.asarray(array)
    info = dtype_info(dtype_for_array(array) if dtype is None else dtype)
    proto = tensor_pb2.TensorProto(dtype=info.enum, tensor_shape=shape_proto(array.shape))
    if info.enum == types_pb2.DT_STRING:
        proto.string_val.extend(_as_bytes(value) for value in array.ravel(order="C"))
    else:
        proto.tensor_content = np.ascontiguousarray(array, dtype=info.numpy).tobytes()
    return proto


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"DT_STRING values must be bytes or str, got {type(value).__name__}")


def shape_of(proto: tensor_pb2.TensorProto) -> tuple[int, ...]:
    return tuple(dim.size for dim in proto.tensor_shape.dim)


def array_from_tensor_proto(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """The values of a TensorProto as a numpy array of its shape.

    DT_STRING gives an object array of ``bytes``. Raises ValueError for types the
    gateway does not convert and for values that do not fit the shape.
    """
    info = dtype_info(proto.dtype)
    shape = shape_of(proto)
    count = int(np.prod(shape, dtype=np.int64))
    if info.enum == types_pb2.DT_STRING:
        return _padded_strings(list(proto.string_val), count).reshape(shape)
    if proto.tensor_content:
        values = np.frombuffer(proto.tensor_content, dtype=info.numpy)
        if values.size != count:
            raise ValueError(
                f"tensor_content holds {values.size} values for a tensor of shape {list(shape)}"
            )
        # A view on the proto's bytes (read-only); callers that mutate must copy.
        return values.reshape(shape)
    return _padded(_typed_values(proto, info), count, info.numpy).reshape(shape)


def _typed_values(proto: tensor_pb2.TensorProto, info: DType) -> np.ndarray:
    field = getattr(proto, info.value_field)
    if info.enum == types_pb2.DT_HALF:
        # half_val holds the IEEE half bit patterns in int32 slots.
        return np.array(field, dtype=np.uint16).view(info.numpy)
    return np.array(field, dtype=info.numpy)


def _padded(values: np.ndarray, count: int, dtype: np.dtype) -> np.ndarray:
    if values.size == count:
        return values
    if values.size == 0:
        return np.zeros(count, dtype=dtype)
    if values.size > count:
        raise ValueError(f"{values.size} values for a tensor of {count} elements")
    # TensorFlow repeats the last value to fill the tensor.
    return np.concatenate([values, np.full(count - values.size, values[-1], dtype=dtype)])


def _padded_strings(values: list[bytes], count: int) -> np.ndarray:
    if len(values) > count:
        raise ValueError(f"{len(values)} values for a tensor of {count} elements")
    if len(values) < count:
        values.extend([values[-1] if values else b""] * (count - len(values)))
    result = np.empty(count, dtype=object)
    result[:] = values
    return result
