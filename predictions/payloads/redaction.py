"""Redaction: named inputs and outputs replaced by their dtype, shape and a keyed hash.

Works on TF Serving's REST bodies: ``instances`` / ``predictions`` (one item per example;
a value, or an object of named values), ``inputs`` / ``outputs`` (one tensor, or an object
of named ones), and ``examples`` / ``context`` (tf.Example features by name). A value that
is not named in the body (a model with one input or one output) belongs to the
signature's only input or output. Whatever cannot be attributed to a name (the signature
is unknown, the body is not an object) is redacted whole whenever the policy redacts
anything: redaction errs on the side of hiding.

The hash is an HMAC-SHA256 keyed with the gateway's secret key, so equal values can be
matched across exchanges but a redacted value cannot be found by hashing guesses. An
error message that quotes a redacted input (or any of its values) is replaced too, since
TF Serving's messages echo the offending value.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from django.utils.crypto import salted_hmac

from tfserving.tensors import dtype_for_array, dtype_name

REDACTED_MESSAGE = "[redacted: the message may quote a redacted input]"
_HMAC_SALT = "predictions.payloads.redaction"
_ROW_KEYS = ("instances", "predictions", "examples")  # lists of items
_TENSOR_KEYS = ("inputs", "outputs", "context")  # a tensor, or named tensors
_SHORTEST_QUOTED_VALUE = 4  # shorter values would match nearly any message


@dataclass
class Redaction:
    """Redacts the named tensors of one exchange and remembers what it hid."""

    names: frozenset[str]
    # name -> DataType name, for the placeholder (from the signature, when known)
    dtypes: Mapping[str, str] = field(default_factory=dict)
    hidden_texts: set[str] = field(default_factory=set)
    redacted: set[str] = field(default_factory=set)

    def body(self, body: Any, only_name: str | None) -> Any:
        """``body`` with the redacted tensors replaced; ``only_name``: the signature's only
        input (or output) when it has exactly one, which an unnamed value belongs to."""
        if not self.names:
            return body
        if not isinstance(body, dict):
            return self._placeholder("", body)
        unnamed_is_redacted = only_name is None or only_name in self.names
        result = dict(body)
        for key in _ROW_KEYS:
            if key in body:
                result[key] = self._rows(body[key], unnamed_is_redacted, only_name or "")
        for key in _TENSOR_KEYS:
            if key in body:
                value = body[key]
                if _is_named(value):
                    result[key] = self._named(value)
                elif unnamed_is_redacted:
                    result[key] = self._placeholder(only_name or "", value)
        return result

    def error(self, body: dict) -> dict:
        """An error body whose message is replaced if it may quote a redacted value."""
        message = str(body.get("error", ""))
        quoted = any(f"'{name}'" in message or f'"{name}"' in message for name in self.redacted)
        if quoted or any(text in message for text in self.hidden_texts):
            return {**body, "error": REDACTED_MESSAGE}
        return body

    def _rows(self, rows: Any, unnamed_is_redacted: bool, only_name: str) -> Any:
        items = rows.tolist() if isinstance(rows, np.ndarray) and rows.dtype == object else rows
        if isinstance(items, list) and items and all(_is_named(item) for item in items):
            return [self._named(item) for item in items]
        return self._placeholder(only_name, rows) if unnamed_is_redacted else rows

    def _named(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {
            name: self._placeholder(name, value) if name in self.names else value
            for name, value in values.items()
        }

    def _placeholder(self, name: str, value: Any) -> dict[str, Any]:
        if name:
            self.redacted.add(name)
        self.hidden_texts.update(_texts(value))
        return {
            "redacted": True,
            "dtype": self.dtypes.get(name) or _dtype(value),
            "shape": _shape(value),
            "hmac_sha256": _keyed_hash(value),
        }


def _is_named(value: Any) -> bool:
    """An object of named values (not a {"b64": ...} string)."""
    return isinstance(value, dict) and set(value) != {"b64"}


def _shape(value: Any) -> list[int]:
    if isinstance(value, np.ndarray):
        return list(value.shape)
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _dtype(value: Any) -> str:
    if isinstance(value, np.ndarray):
        try:
            return dtype_name(dtype_for_array(value))
        except ValueError:
            return str(value.dtype)
    while isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str | dict):
        return "string"
    return "unknown"


def _keyed_hash(value: Any) -> str:
    canonical = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_SORT_KEYS)
    return salted_hmac(_HMAC_SALT, canonical, algorithm="sha256").hexdigest()


def _texts(value: Any) -> Iterable[str]:
    """The leaves of a value as an error message could quote them."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, bytes):
        yield from _texts(value.decode("utf-8", "replace"))
    elif value is not None:
        text = str(value)
        if len(text) >= _SHORTEST_QUOTED_VALUE:
            yield text


def redaction_for(names: Collection[str], dtypes: Mapping[str, str] | None = None) -> Redaction:
    return Redaction(frozenset(names), dict(dtypes or {}))
