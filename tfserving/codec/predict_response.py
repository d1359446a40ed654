"""A PredictResponse -> TF Serving's JSON: "predictions" (row) or "outputs" (columnar).

Numeric outputs stay numpy arrays (orjson writes them directly); one output is
written without its name; outputs named ``*_bytes`` become ``{"b64": ...}``.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from tfserving.codec.json_values import B64_KEY, BYTES_SUFFIX
from tfserving.errors import InvalidInput
from tfserving.protos import predict_pb2, tensor_pb2, types_pb2
from tfserving.tensors import array_from_tensor_proto, dtype_name

PREDICTIONS_KEY = "predictions"
OUTPUTS_KEY = "outputs"


def render_predict_response(response: predict_pb2.PredictResponse, columnar: bool) -> dict:
    """The JSON body TF Serving returns for a PredictResponse (serialise with jsonio.dumps).

    Numeric outputs stay numpy arrays (orjson writes them directly); one output is
    written without its name; outputs named ``*_bytes`` become ``{"b64": ...}``.
    """
    outputs = response.outputs
    if not outputs:
        raise InvalidInput("Cannot convert empty tensor map to JSON")
    values = {name: _output_value(name, outputs[name]) for name in sorted(outputs)}
    if columnar:
        if len(values) == 1:
            return {OUTPUTS_KEY: next(iter(values.values()))}
        return {OUTPUTS_KEY: values}
    return {PREDICTIONS_KEY: _rows(values)}


def _output_value(name: str, proto: tensor_pb2.TensorProto) -> Any:
    try:
        array = array_from_tensor_proto(proto)
    except ValueError:
        raise InvalidInput(
            f"Failed to write JSON value for tensor type: {dtype_name(proto.dtype)}"
        ) from None
    if proto.dtype == types_pb2.DT_STRING:
        as_text = _b64_object if name.endswith(BYTES_SUFFIX) else _utf8_text
        strings = np.empty(array.size, dtype=object)
        strings[:] = [as_text(value) for value in array.ravel()]
        array = strings.reshape(array.shape)
    # orjson writes a 0-d array as a one-element list; TF Serving writes the bare value.
    return array[()] if array.ndim == 0 else array


def _utf8_text(value: bytes) -> str:
    # TF Serving copies the bytes into the JSON as they are; invalid UTF-8 would make
    # the whole body invalid, so such bytes become U+FFFD here.
    return value.decode("utf-8", "replace")


def _b64_object(value: bytes) -> dict[str, str]:
    return {B64_KEY: base64.b64encode(value).decode("ascii")}


def _rows(values: dict[str, Any]) -> Any:
    batch_size = None
    for name, value in values.items():
        if not isinstance(value, np.ndarray):
            raise InvalidInput(f"Tensor name: {name} has no shape information ")
        if batch_size is not None and value.shape[0] != batch_size:
            raise InvalidInput(
                f"Tensor name: {name} has inconsistent batch size: {value.shape[0]} "
                f"expecting: {batch_size}"
            )
        batch_size = value.shape[0]
    if len(values) == 1:
        return next(iter(values.values()))
    return [{name: value[row] for name, value in values.items()} for row in range(batch_size or 0)]
