"""JSON in and out, fast, with TF Serving's non-finite number tokens.

TF Serving reads and writes ``NaN``, ``Infinity`` and ``-Infinity`` as bare
tokens (not valid RFC 8259 JSON, but what its clients send and expect). orjson
is several times faster than the standard library and serialises numpy arrays
directly, but it rejects those tokens on input and writes ``null`` on output.
So: orjson first; the standard library only when the body really contains such
a token (and then a lone surrogate escape, which orjson and TF Serving's parser
refuse but the standard library lets through, is refused too); and on output, a
``null`` that orjson wrote for a non-finite float is replaced by the token TF Serving
would write.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson

from tfserving.errors import InvalidInput

_DUMPS_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
_NON_FINITE_TOKENS = (b"NaN", b"Infinity")
_NULL = b"null"
# \uD800-\uDFFF: half of a surrogate pair; a string holding one is not Unicode text.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse a request body; InvalidInput (400) with the parser's reason if it is not JSON."""
    if not data:
        raise InvalidInput("JSON Parse error: The document is empty")
    try:
        with gc_paused():
            return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        if not _may_have_non_finite_tokens(data):
            raise InvalidInput(f"JSON Parse error: {error}") from None
    raw = bytes(data) if isinstance(data, memoryview | bytearray) else data
    try:
        # json accepts exactly the NaN / Infinity / -Infinity tokens TF Serving accepts.
        parsed = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise InvalidInput(f"JSON Parse error: {error}") from None
    escapes = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if _SURROGATE_ESCAPE.search(escapes) and _has_lone_surrogate(parsed):
        raise InvalidInput("JSON Parse error: The surrogate pair in string is invalid")
    return parsed


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a parsed document holds a string (or key) that is not valid Unicode."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Suspend the cyclic garbage collector while a large JSON tree is built or converted.

    A 224x224x3 image arrives as ~50,000 nested lists. Every 700 new containers
    trigger a collection, and the older generations are rescanned with everything
    else alive in the process: measured, that made decoding 1.5x slower and its
    timing erratic. The lists hold no reference cycles, so there is nothing for the
    collector to find. Safe with threads: only a caller that found the collector
    enabled turns it back on, always, when its block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _may_have_non_finite_tokens(data: bytes | bytearray | memoryview | str) -> bool:
    raw = data.encode() if isinstance(data, str) else bytes(data)
    return any(token in raw for token in _NON_FINITE_TOKENS)


def dumps(obj: Any) -> bytes:
    """Serialise a response; numpy arrays and scalars are written directly.

    Non-finite floats are written as NaN / Infinity / -Infinity, like TF Serving.
    """
    out = orjson.dumps(obj, default=_default, option=_DUMPS_OPTIONS)
    if _NULL not in out:
        return out  # the common case: nothing non-finite was turned into null
    return orjson.dumps(_with_non_finite_tokens(obj), default=_default, option=_DUMPS_OPTIONS)


def _default(obj: Any) -> Any:
    # orjson hands over what it cannot write natively: non-contiguous or object arrays.
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "O":
            return obj.tolist()
        return np.ascontiguousarray(obj)
    raise TypeError(f"Type is not JSON serializable: {type(obj).__name__}")


def non_finite_token(value: float) -> bytes:
    if math.isnan(value):
        return b"NaN"
    return b"Infinity" if value > 0 else b"-Infinity"


def _with_non_finite_tokens(obj: Any) -> Any:
    """A copy of ``obj`` where each non-finite float is a pre-rendered JSON fragment."""
    if isinstance(obj, dict):
        return {key: _with_non_finite_tokens(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [_with_non_finite_tokens(value) for value in obj]
    if isinstance(obj, float | np.floating):
        return obj if math.isfinite(obj) else orjson.Fragment(non_finite_token(obj))
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
        return _array_fragment(obj)
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "O":
        return _with_non_finite_tokens(obj.tolist())
    return obj


def _array_fragment(array: np.ndarray) -> Any:
    array = np.ascontiguousarray(array)
    finite = np.isfinite(array)
    if finite.all():
        return array
    # In a float array orjson writes null only for non-finite values, in C order,
    # so the n-th "null" is the n-th non-finite element.
    pieces = orjson.dumps(array, option=_DUMPS_OPTIONS).split(_NULL)
    tokens = [non_finite_token(value) for value in array.ravel()[~finite.ravel()].tolist()]
    joined = bytearray(pieces[0])
    for token, piece in zip(tokens, pieces[1:], strict=True):  # strict: n nulls, n tokens
        joined += token
        joined += piece
    return orjson.Fragment(bytes(joined))
