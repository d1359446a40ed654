"""A logged exchange as every sink receives it: redacted, size-bounded JSON, built once.

A record is built in the request's thread (only for an exchange the policy logs), so the
queues hold small finished records, not the request's parsed body: at most the policy's
max_bytes per payload. Payloads are JSON text written by orjson (NaN and infinities
become ``null``, which every JSON store accepts). One larger than max_bytes is replaced
by a marker object that says so and keeps the text's beginning::

    {"truncated": true, "bytes": 5000000, "max_bytes": 65536, "head": "{\\"instances\\": [[0.1,"}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

_DUMPS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


@dataclass(frozen=True)
class Payload:
    text: bytes  # JSON: the (redacted) body, or the truncation marker
    size: int  # bytes of the body's JSON before truncation
    truncated: bool

    def value(self) -> Any:
        return orjson.loads(self.text)


def payload(value: Any, max_bytes: int) -> Payload:
    """``value`` as JSON, or a truncation marker if its JSON is longer than ``max_bytes``."""
    text = orjson.dumps(value, option=_DUMPS)
    if len(text) <= max_bytes:
        return Payload(text, len(text), truncated=False)
    return Payload(_marker(text, max_bytes), len(text), truncated=True)


def _marker(text: bytes, max_bytes: int) -> bytes:
    keep = max_bytes
    while True:
        head = text[:keep].decode("utf-8", "ignore")  # never half a character
        marker = orjson.dumps(
            {"truncated": True, "bytes": len(text), "max_bytes": max_bytes, "head": head}
        )
        if len(marker) <= max_bytes or keep == 0:
            return marker
        # Escaping (quotes, backslashes) made the head longer than the text it came from.
        keep = max(0, keep - (len(marker) - max_bytes) - 1)


@dataclass(frozen=True)
class PayloadRecord:
    """One logged exchange. ``request``/``response`` are None for a direction not logged."""

    created_at: datetime
    request_id: str
    client_request_id: str  # the client's own X-Request-ID ("" if none)
    trace_id: str
    traceparent: str  # W3C, for the CloudEvents ("" while tracing is off)
    model_name: str
    model_version: int | None
    version_label: str
    signature_name: str
    method: str
    caller: str
    http_status: int
    error_code: str
    reason: str  # "sampled" or "error"
    request: Payload | None
    response: Payload | None
    redacted: tuple[str, ...]

    def as_json_line(self) -> bytes:
        """The record as one line of JSON (the file sink's format, and the export's)."""
        fields = self.metadata()
        body = orjson.dumps(fields)[:-1]  # splice the payloads in without re-parsing them
        for name, part in (("request", self.request), ("response", self.response)):
            body += b',"' + name.encode() + b'":' + (part.text if part else b"null")
        return body + b"}\n"

    def metadata(self) -> dict[str, Any]:
        return {
            "created_at": self.created_at.isoformat(),
            "request_id": self.request_id,
            "client_request_id": self.client_request_id,
            "trace_id": self.trace_id,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "version_label": self.version_label,
            "signature_name": self.signature_name,
            "method": self.method,
            "caller": self.caller,
            "http_status": self.http_status,
            "error_code": self.error_code,
            "reason": self.reason,
            "request_bytes": self.request.size if self.request else 0,
            "response_bytes": self.response.size if self.response else 0,
            "request_truncated": bool(self.request and self.request.truncated),
            "response_truncated": bool(self.response and self.response.truncated),
            "redacted": list(self.redacted),
        }

    @property
    def size(self) -> int:
        """Bytes this record holds in a queue (its payloads)."""
        return sum(len(part.text) for part in (self.request, self.response) if part) + 512
