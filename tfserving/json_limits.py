"""Refuse a JSON body nested too deep or holding too many values, before it is parsed.

Parsed, JSON costs far more memory than on the wire: measured with orjson, a
32 MiB body of ``0,`` becomes 512 MiB of Python objects, of ``[],`` 1.07 GiB and of
``{"k0000001":0,`` 0.65 GiB (32 to 243 bytes per item). The byte limit alone
therefore lets one request take a gigabyte. Nesting costs little memory, but
every walk over the tree (the codec's, the standard library's parser used for
NaN tokens) goes one level deeper per level.

So the body is measured first, with C-speed bytes operations and no Python object
per value: ``translate`` keeps only the bytes that give the document its shape
(brackets, commas, colons, quotes), the parts inside string literals are dropped,
and what is left is counted. About 1 ms per MB of JSON, against about 10 ms per
MB to parse it.

Elements are counted as ``1 + commas + colons + opening brackets``: every value and
every object key, exactly, except that an empty array or object counts twice. For
a body that is not valid JSON the count is still an upper bound of what the parser
builds before it finds the error, because everything before the error is read
as valid JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tfserving.errors import InvalidInput

_SHAPE_BYTES = b'[]{},:"'
_NOT_SHAPE_BYTES = bytes(sorted(set(range(256)) - set(_SHAPE_BYTES)))
_QUOTE = ord('"')
_CURLY_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = b",:"
# Strings are dropped in slices of this many shape bytes, so the numpy temporaries
# stay a few MB whatever the body size.
_SLICE_BYTES = 1 << 22


@dataclass(frozen=True)
class JsonLimits:
    max_depth: int  # arrays and objects inside each other; {"instances": [[1.0]]} is 3
    max_elements: int  # values and object keys


def check_json_limits(data: bytes | bytearray | memoryview, limits: JsonLimits) -> None:
    """Raise InvalidInput (400) if ``data`` nests deeper or holds more elements than allowed."""
    shape = _shape_outside_strings(bytes(data))
    elements = 1 + shape.count(b",") + shape.count(b":") + shape.count(b"[") + shape.count(b"{")
    if elements > limits.max_elements:
        raise InvalidInput(
            f"JSON body has more than {limits.max_elements} elements (values and object keys)"
        )
    if _nesting_exceeds(shape.translate(_CURLY_AS_SQUARE, _NOT_BRACKETS), limits.max_depth):
        raise InvalidInput(f"JSON body is nested more than {limits.max_depth} levels deep")


def _shape_outside_strings(data: bytes) -> bytes:
    """The brackets, commas and colons of ``data`` that are not inside a string literal."""
    if b"\\" in data:
        # Backslashes occur only inside strings. Dropping each escaped backslash and
        # then each escaped quote (both left to right, as a parser pairs them) leaves
        # every remaining quote a string delimiter.
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    shape = data.translate(None, _NOT_SHAPE_BYTES)
    if _QUOTE not in shape:
        return shape
    pieces = []
    inside = False  # whether the previous slice ended inside a string
    for start in range(0, len(shape), _SLICE_BYTES):
        marks = np.frombuffer(shape, np.uint8, min(_SLICE_BYTES, len(shape) - start), start)
        quotes = marks == _QUOTE
        # True from an opening quote up to (not including) its closing quote.
        in_string = np.logical_xor.accumulate(quotes)
        if inside:
            in_string = ~in_string
        pieces.append(marks[~(in_string | quotes)].tobytes())
        inside = bool(in_string[-1])
    return b"".join(pieces)


def _nesting_exceeds(brackets: bytes, max_depth: int) -> bool:
    """Whether the brackets nest more than ``max_depth`` deep.

    Each round deletes every innermost ``[]`` pair, so the number of rounds that
    empty the string is the nesting depth; at most ``max_depth + 1`` rounds are
    run. Unbalanced brackets (not JSON: the parser will say so) stop the rounds.
    """
    for _ in range(max_depth):
        if not brackets:
            return False
        inner_removed = brackets.replace(b"[]", b"")
        if len(inner_removed) == len(brackets):
            return False
        brackets = inner_removed
    return bool(brackets) and b"[]" in brackets
