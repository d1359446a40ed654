from __future__ import annotations

import gc
import math

import numpy as np
import pytest

from tfserving import jsonio
from tfserving.errors import InvalidInput


def test_loads_parses_ordinary_json():
    assert jsonio.loads(b'{"instances": [1.0, 2, "x", true, null]}') == {
        "instances": [1.0, 2, "x", True, None]
    }


def test_loads_accepts_tf_servings_non_finite_tokens():
    result = jsonio.loads(b'{"inputs": [NaN, Infinity, -Infinity, 1.5]}')

    values = result["inputs"]
    assert math.isnan(values[0])
    assert values[1:] == [math.inf, -math.inf, 1.5]


def test_loads_accepts_str_and_memoryview():
    assert jsonio.loads('{"a": 1}') == {"a": 1}
    assert jsonio.loads(memoryview(b'{"a": NaN}'))["a"] != 0


def test_empty_body_is_reported_as_tf_serving_reports_it():
    with pytest.raises(InvalidInput) as caught:
        jsonio.loads(b"")

    assert caught.value.message == "JSON Parse error: The document is empty"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{", "JSON Parse error: unexpected end of data: line 1 column 2 (char 1)"),
        (b"[1,]", "JSON Parse error: trailing comma is not allowed: line 1 column 3 (char 2)"),
        (
            b'{"a": nan}',
            "JSON Parse error: invalid literal, expected 'null': line 1 column 7 (char 6)",
        ),
    ],
)
def test_malformed_json_is_invalid_input_with_the_parsers_reason(body, reason):
    with pytest.raises(InvalidInput) as caught:
        jsonio.loads(body)

    assert caught.value.message == reason


def test_malformed_json_with_a_nan_token_is_still_invalid_input():
    with pytest.raises(InvalidInput, match=r"^JSON Parse error: Expecting ',' delimiter"):
        jsonio.loads(b'{"a": NaN')


def test_invalid_utf8_is_invalid_input():
    with pytest.raises(InvalidInput, match=r"^JSON Parse error: .*UTF-8"):
        jsonio.loads(b'{"a": "\xff"}')


def test_very_deep_nesting_is_invalid_input_not_a_crash():
    with pytest.raises(InvalidInput, match=r"^JSON Parse error"):
        jsonio.loads(b"[" * 5000 + b"NaN" + b"]" * 5000)


def test_dumps_writes_numpy_arrays_and_float32_shortest():
    body = {"predictions": np.array([[0.1, 2.0], [3.5, -0.25]], dtype=np.float32)}

    assert jsonio.dumps(body) == b'{"predictions":[[0.1,2.0],[3.5,-0.25]]}'


def test_dumps_writes_numpy_scalars_of_every_numeric_kind():
    body = [np.float16(1.5), np.float32(0.7), np.int8(-3), np.uint64(2**64 - 1), np.bool_(True)]

    assert jsonio.dumps(body) == b"[1.5,0.7,-3,18446744073709551615,true]"


def test_dumps_writes_non_finite_values_as_tf_serving_does():
    body = {
        "a": np.array([[1.0, np.nan], [np.inf, -np.inf]], dtype=np.float32),
        "b": float("nan"),
        "c": [np.float64(-np.inf), 2.0],
        "d": None,
    }

    assert jsonio.dumps(body) == (
        b'{"a":[[1.0,NaN],[Infinity,-Infinity]],"b":NaN,"c":[-Infinity,2.0],"d":null}'
    )


def test_dumps_keeps_null_and_the_word_null_in_strings():
    assert jsonio.dumps({"a": None, "b": "null", "c": [np.float32(np.nan)]}) == (
        b'{"a":null,"b":"null","c":[NaN]}'
    )


def test_dumps_writes_non_contiguous_and_object_arrays():
    matrix = np.arange(6, dtype=np.int32).reshape(2, 3)
    strings = np.array([["a", "b"]], dtype=object)

    assert jsonio.dumps([matrix.T, strings]) == b'[[[0,3],[1,4],[2,5]],[["a","b"]]]'


def test_dumps_refuses_bytes():
    with pytest.raises(TypeError):
        jsonio.dumps({"a": b"raw"})


def test_dumps_output_reads_back_with_loads():
    array = np.array([1.5, np.nan, -np.inf], dtype=np.float64)

    again = jsonio.loads(jsonio.dumps({"x": array}))["x"]

    np.testing.assert_array_equal(np.array(again), array)


def test_gc_paused_suspends_the_collector_and_restores_it():
    with jsonio.gc_paused():
        inside = gc.isenabled()

    assert (inside, gc.isenabled()) == (False, True)


def test_gc_paused_leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        with jsonio.gc_paused():
            pass
        assert gc.isenabled() is False
    finally:
        gc.enable()


def test_gc_paused_restores_the_collector_after_an_error():
    with pytest.raises(InvalidInput), jsonio.gc_paused():
        jsonio.loads(b"{")

    assert gc.isenabled() is True


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": [1.0, NaN], "signature_name": "\\ud800"}',
        b'{"instances": ["\\udfff", Infinity]}',
        b'{"\\ud800": [NaN]}',
        '{"instances": ["\\uDBFF", -Infinity]}',
    ],
)
def test_a_lone_surrogate_beside_a_non_finite_token_is_a_parse_error(body: bytes | str) -> None:
    # The standard library, which reads the tokens, would let the surrogate through.
    with pytest.raises(InvalidInput, match=r"^JSON Parse error: The surrogate pair in string"):
        jsonio.loads(body)


def test_a_lone_surrogate_alone_is_a_parse_error_too() -> None:
    with pytest.raises(InvalidInput, match=r"^JSON Parse error: no low surrogate"):
        jsonio.loads(b'{"instances": ["\\ud800"]}')


def test_a_surrogate_pair_beside_a_non_finite_token_is_text() -> None:
    assert jsonio.loads(b'["\\ud83d\\ude00", NaN]')[0] == "\N{GRINNING FACE}"
