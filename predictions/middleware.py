"""Per-request context: the request id, and the audit record of API requests."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from predictions import audit
from predictions.request_context import accepted_request_id, reset_request_id, set_request_id

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
AUDITED_PATH_PREFIX = "/v1/"


class RequestIdMiddleware:
    """Takes the client's X-Request-ID (or makes one), for logs, gRPC metadata and the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = accepted_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id
        token = set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class AuditMiddleware:
    """Records every request under /v1/, whatever its outcome (after RequestIdMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(AUDITED_PATH_PREFIX):
            return self.get_response(request)
        entry = audit.AuditEntry(
            created_at=timezone.now(),
            started=time.perf_counter(),
            request_id=getattr(request, "request_id", ""),
            http_method=request.method or "",
            path=request.path,
            request_bytes=_declared_length(request),
        )
        request.audit = entry
        response = self.get_response(request)
        data = getattr(response, "data", None)
        if response.status_code >= 400 and isinstance(data, dict):
            entry.error_code = str(data.get("code", ""))
        response_bytes = 0 if response.streaming else len(response.content)
        try:
            audit.record(entry, response.status_code, response_bytes)
        except Exception:
            # The answer is computed; a failed audit write must not turn it into an error.
            log.exception("Could not write the audit record of request %s", entry.request_id)
        return response


def _declared_length(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0
