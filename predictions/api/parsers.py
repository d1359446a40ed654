"""Request bodies: TF Serving JSON (with NaN/Infinity), parsed by orjson, within the limits.

DRF reads the body from the raw stream, bypassing Django's
DATA_UPLOAD_MAX_MEMORY_SIZE check, so the limit is enforced here: by the declared
Content-Length before reading, and by the bytes actually read. The JSON's nesting
depth and element count are checked on the bytes before any object is built. The
form parsers of the token views are bounded the same way: DRF's form parser reads
the whole stream, and Django's multipart parser spools files of any size to disk.
"""

from __future__ import annotations

from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.parsers import BaseParser, FormParser, MultiPartParser

from predictions.api.middleware import declared_length
from tfserving import jsonio
from tfserving.json_limits import JsonLimits, check_json_limits


def check_declared_length(parser_context: dict[str, Any] | None) -> None:
    """RequestDataTooBig (413) before reading, when the Content-Length is over the limit."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    request = (parser_context or {}).get("request")
    if limit is not None and request is not None and declared_length(request) > limit:
        raise RequestDataTooBig("Request body exceeded MAX_REQUEST_BYTES")


def read_within_limit(stream: IO[bytes], parser_context: dict[str, Any] | None) -> bytes:
    """The body, never more than the limit: a longer one is RequestDataTooBig (413)."""
    check_declared_length(parser_context)
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    data = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise RequestDataTooBig("Request body exceeded MAX_REQUEST_BYTES")
    return data


class _DeclaredLengthChecked(BaseParser):
    """Refuses a body whose declared length is over the limit before the parser reads it."""

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        check_declared_length(parser_context)
        return super().parse(stream, media_type, parser_context)


class BoundedFormParser(_DeclaredLengthChecked, FormParser):
    """application/x-www-form-urlencoded within MAX_REQUEST_BYTES."""


class BoundedMultiPartParser(_DeclaredLengthChecked, MultiPartParser):
    """multipart/form-data within MAX_REQUEST_BYTES, files included: the declared length
    is checked before a byte is read or spooled (a chunked body has been given one by
    serving_project/chunked_bodies.py)."""


class TFServingJSONParser(BaseParser):
    media_type = "application/json"

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        data = read_within_limit(stream, parser_context)
        check_json_limits(data, JsonLimits(settings.MAX_JSON_DEPTH, settings.MAX_JSON_ELEMENTS))
        return jsonio.loads(data)


class AnyContentTypeJSONParser(TFServingJSONParser):
    """JSON whatever the Content-Type says, as TF Serving's REST API reads it.

    TF Serving ignores Content-Type, and its documented clients rely on that
    (``curl -d`` sends application/x-www-form-urlencoded, Python ``requests`` with
    ``data=`` sends none), so the inference endpoints accept them all.
    """

    media_type = "*/*"
