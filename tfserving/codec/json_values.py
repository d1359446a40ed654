"""JSON values as TF Serving's REST API reads and words them.

Shared by every format: the body must be an object, ``signature_name`` a string,
``{"b64": ...}`` objects carry binary strings, and error messages show a value as
(at most 256 bytes of) JSON with rapidjson's type names, as json_tensor.cc does.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any

from tfserving import jsonio
from tfserving.errors import InvalidInput
from tfserving.signatures import DEFAULT_SIGNATURE

SIGNATURE_KEY = "signature_name"
B64_KEY = "b64"
# TF Serving's convention: a string tensor whose name ends so holds binary data,
# written as {"b64": ...}.
BYTES_SUFFIX = "_bytes"

_MAX_DEBUG_BYTES = 256


def require_object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput(f"JSON Value: {debug_text(body)} Is not object")
    return body


def signature_name_of(document: Mapping[str, Any]) -> str:
    name = document.get(SIGNATURE_KEY, DEFAULT_SIGNATURE)
    if not isinstance(name, str):
        raise InvalidInput(
            f"JSON Value: {debug_text(name)} not formatted correctly. "
            "'signature_name' key must be a string value."
        )
    return name or DEFAULT_SIGNATURE


def is_b64_object(value: object) -> bool:
    return type(value) is dict and len(value) == 1 and isinstance(value.get(B64_KEY), str)


def is_named_object(value: object) -> bool:
    return type(value) is dict and not is_b64_object(value)


def decode_b64_object(value: dict) -> bytes:
    """The bytes of ``{"b64": "..."}``; ValueError worded as TF Serving words it."""
    if not is_b64_object(value):
        raise ValueError(f"JSON Value: {debug_text(value)} not formatted correctly for base64 data")
    text = value[B64_KEY]
    try:
        # TF Serving (absl::Base64Unescape) accepts the padding being left out. strict_mode
        # rejects stray characters in C (b64decode(validate=True) runs a regex: 1.7x slower).
        return binascii.a2b_base64(text + "=" * (-len(text) % 4), strict_mode=True)
    except ValueError:  # binascii.Error, or a str that is not ASCII
        raise ValueError("Unable to base64 decode") from None


def fits_double(value: float) -> bool:
    try:
        float(value)
    except OverflowError:
        return False
    return True


def json_type(value: object) -> str:
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


def debug_text(value: object) -> str:
    """A value as (at most 256 bytes of) JSON, for error messages, as TF Serving shows it."""
    try:
        text = jsonio.dumps(value)
    except TypeError:
        text = repr(value).encode()
    if len(text) > _MAX_DEBUG_BYTES:
        text = text[:_MAX_DEBUG_BYTES] + b"..."
    return text.decode("utf-8", "replace")
