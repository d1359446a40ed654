"""Counts every API request in the Prometheus metrics."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from predictions.api.middleware import is_api_request
from predictions.audit.entry import entry_for
from predictions.operations import metrics


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
            entry_for(request), response.status_code, time.perf_counter() - started
        )
        return response
