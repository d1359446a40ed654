"""Records every API request, whatever its outcome."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from predictions.api.middleware import declared_length, is_api_request
from predictions.audit import writer
from predictions.audit.entry import AuditEntry
from tfserving import tracing

log = logging.getLogger(__name__)

MODEL_VERSION_HEADER = "X-Model-Version"


class AuditMiddleware:
    """Records every API request, whatever its outcome (after RequestIdMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_request(request.path):
            return self.get_response(request)
        entry = AuditEntry(
            created_at=timezone.now(),
            started=time.perf_counter(),
            request_id=getattr(request, "request_id", ""),
            client_request_id=getattr(request, "client_request_id", ""),
            http_method=request.method or "",
            path=request.path,
            request_bytes=declared_length(request),
            trace_id=tracing.current_trace_id(),
        )
        request.audit = entry
        response = self.get_response(request)
        data = getattr(response, "data", None)
        if response.status_code >= 400 and isinstance(data, dict):
            entry.error_code = str(data.get("code", ""))
        if entry.model_version is not None and entry.grpc_code == "OK":
            response[MODEL_VERSION_HEADER] = str(entry.model_version)  # the version that answered
        response_bytes = 0 if response.streaming else len(response.content)
        try:
            with tracing.span("audit"):
                writer.record(entry, response.status_code, response_bytes)
        except Exception:
            # The answer is computed; a failed audit write must not turn it into an error.
            log.exception("Could not write the audit record of request %s", entry.request_id)
        return response
