"""Request bodies: TF Serving JSON (with NaN/Infinity), parsed by orjson, within the limits.

DRF reads the body from the raw stream, bypassing Django's
DATA_UPLOAD_MAX_MEMORY_SIZE check, so the limit is enforced here: by the declared
Content-Length before reading, and by the bytes actually read. The JSON's nesting
depth and element count are checked on the bytes before any object is built.
"""

from __future__ import annotations

from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.parsers import BaseParser

from predictions.tfserving import jsonio
from predictions.tfserving.json_limits import JsonLimits, check_json_limits


class TFServingJSONParser(BaseParser):
    media_type = "application/json"

    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        if limit is not None and request is not None and _declared_length(request) > limit:
            raise RequestDataTooBig("Request body exceeded MAX_REQUEST_BYTES")
        data = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(data) > limit:
            raise RequestDataTooBig("Request body exceeded MAX_REQUEST_BYTES")
        check_json_limits(data, JsonLimits(settings.MAX_JSON_DEPTH, settings.MAX_JSON_ELEMENTS))
        return jsonio.loads(data)


class AnyContentTypeJSONParser(TFServingJSONParser):
    """JSON whatever the Content-Type says, as TF Serving's REST API reads it.

    TF Serving ignores Content-Type, and its documented clients rely on that
    (``curl -d`` sends application/x-www-form-urlencoded, Python ``requests`` with
    ``data=`` sends none), so the inference endpoints accept them all.
    """

    media_type = "*/*"


def _declared_length(request: Any) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
