"""Per-request context: the request id, the audit record and the metrics of API requests."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from predictions import audit, metrics
from predictions.request_context import accepted_request_id, reset_request_id, set_request_id

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
API_PATH_PREFIX = "/v1/"
# The API's own documentation (schema, docs page) is read by people, not called by clients.
DOCUMENTATION_PATHS = ("/v1/schema", "/v1/docs")


def is_api_request(path: str) -> bool:
    return path.startswith(API_PATH_PREFIX) and not path.startswith(DOCUMENTATION_PATHS)


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


class MetricsMiddleware:
    """Counts every API request in the Prometheus metrics, from its audit entry.

    Runs outside AuditMiddleware, so the entry is complete when the response passes.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_request(request.path):
            return self.get_response(request)
        started = time.perf_counter()
        metrics.request_started()
        try:
            response = self.get_response(request)
        except BaseException:
            metrics.request_finished(None, 500, time.perf_counter() - started)
            raise
        metrics.request_finished(
            audit.entry_for(request), response.status_code, time.perf_counter() - started
        )
        return response


class AuditMiddleware:
    """Records every API request, whatever its outcome (after RequestIdMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_request(request.path):
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
