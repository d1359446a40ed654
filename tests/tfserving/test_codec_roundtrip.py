"""The JSON path round-trips: body -> tensors -> PredictResponse -> body gives the same values."""

from __future__ import annotations

import base64

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.tfserving.builders import (
    BOOL,
    DOUBLE,
    FLOAT,
    HALF,
    INT8,
    INT32,
    INT64,
    STRING,
    UINT8,
    UINT64,
    predict_response,
    signatures,
)
from tfserving import jsonio
from tfserving.codec import parse_predict_request, render_predict_response
from tfserving.tensors import DTYPES, array_from_tensor_proto

NUMERIC = [FLOAT, DOUBLE, HALF, INT8, INT32, INT64, UINT8, UINT64, BOOL]
SHAPES = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)


@st.composite
def numeric_arrays(draw) -> tuple[int, np.ndarray]:
    dtype = draw(st.sampled_from(NUMERIC))
    return dtype, draw(hnp.arrays(DTYPES[dtype].numpy, SHAPES))


def as_json_values(array: np.ndarray) -> object:
    """The array as nested lists a client would send (via JSON text, like a real client)."""
    return jsonio.loads(jsonio.dumps(array))


def assert_same_values(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)  # NaN equals NaN here


@settings(max_examples=300, deadline=None)
@given(numeric_arrays(), st.booleans())
def test_numeric_tensors_round_trip_through_json(case, columnar):
    dtype, array = case
    sigs = signatures({"v": (dtype, (-1,) * array.ndim)})
    key = "inputs" if columnar else "instances"

    inputs = parse_predict_request({key: as_json_values(array)}, sigs)
    tensor = inputs.tensors["v"]
    body = jsonio.loads(
        jsonio.dumps(render_predict_response(predict_response(v=tensor), columnar=columnar))
    )

    assert_same_values(array_from_tensor_proto(tensor), array)
    returned = body["outputs" if columnar else "predictions"]
    assert_same_values(np.array(returned, dtype=array.dtype).reshape(array.shape), array)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_text_tensors_round_trip_through_json(data):
    shape = data.draw(SHAPES)
    texts = data.draw(
        st.lists(st.text(max_size=6), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))
    )
    nested = np.array(texts, dtype=object).reshape(shape).tolist()

    inputs = parse_predict_request({"inputs": nested}, signatures({"t": (STRING, None)}))
    body = jsonio.loads(
        jsonio.dumps(render_predict_response(predict_response(t=inputs.tensors["t"]), True))
    )

    assert body == {"outputs": nested}


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=12), min_size=1, max_size=6))
def test_binary_tensors_round_trip_through_b64(blobs):
    sent = [{"b64": base64.b64encode(blob).decode()} for blob in blobs]

    inputs = parse_predict_request(
        {"instances": sent}, signatures({"image_bytes": (STRING, (-1,))})
    )
    response = predict_response(image_bytes=inputs.tensors["image_bytes"])
    body = jsonio.loads(jsonio.dumps(render_predict_response(response, columnar=False)))

    assert list(inputs.tensors["image_bytes"].string_val) == blobs
    assert body == {"predictions": sent}
