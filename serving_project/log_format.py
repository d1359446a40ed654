"""Log record formatting: readable text locally, one JSON object per line in production.

Every line carries the id of the request being handled ("-" outside one) and, while tracing
is on, the id of its trace (the audit record keeps both too). gunicorn's
access lines are formatted after the request has ended, so their id comes from the
X-Request-ID response header that gunicorn passes along with the line (and the client's
own id, when it sent one, from X-Client-Request-ID), and in JSON their parts become
fields (method, path, status, duration_ms...).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

import orjson

from predictions.request_id import current_request_id
from tfserving import tracing

# Attributes every LogRecord has; anything else was passed with `extra=` and is kept.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
    "trace_id",
}


ACCESS_LOGGER = "gunicorn.access"
# gunicorn's access-log atoms, as JSON fields (see gunicorn's glogging.Logger.atoms).
_ACCESS_FIELDS = {
    "remote_address": "h",
    "method": "m",
    "path": "U",
    "query": "q",
    "status": "s",
    "response_bytes": "B",
    "duration_ms": "M",
    "user_agent": "a",
}
_REQUEST_ID_ATOM = "{x-request-id}o"
_CLIENT_REQUEST_ID_ATOM = "{x-client-request-id}o"  # "-" when the client sent none


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (the request being handled, or "-") and ``trace_id`` (its trace,
    or "-") to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "trace_id"):
            record.trace_id = tracing.current_trace_id() or "-"
        if not hasattr(record, "request_id"):
            atoms = _access_atoms(record)
            if atoms is not None:
                record.request_id = atoms[_REQUEST_ID_ATOM]
            else:
                # django.request logs a 5xx the view answered after the middleware has
                # returned (the id is no longer current), passing the request along.
                request_id = getattr(getattr(record, "request", None), "request_id", None)
                record.request_id = request_id or current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        trace_id = getattr(record, "trace_id", None) or tracing.current_trace_id()
        if trace_id and trace_id != "-":
            entry["trace_id"] = trace_id
        atoms = _access_atoms(record)
        if atoms is not None:
            entry["request_id"] = atoms[_REQUEST_ID_ATOM]
            client_request_id = atoms.get(_CLIENT_REQUEST_ID_ATOM, "-")
            if client_request_id != "-":
                entry["client_request_id"] = client_request_id
            entry.update({field: atoms[atom] for field, atom in _ACCESS_FIELDS.items()})
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def _access_atoms(record: logging.LogRecord) -> Mapping[str, object] | None:
    """gunicorn's atoms (a mapping that answers "-" for anything unknown) on an access line."""
    if record.name == ACCESS_LOGGER and isinstance(record.args, Mapping):
        return record.args
    return None
