"""The SERVER span of every API request, continuing the client's W3C ``traceparent``."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse

from predictions.api.middleware import is_api_request
from predictions.tracing.setup import ensure_configured
from tfserving import tracing

REQUEST_ID_ATTRIBUTE = "gateway.request_id"
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def route_template(pattern: str) -> str:
    """``/v1/models/{name}/versions/{version}:predict`` for the route's regular expression."""
    return "/" + _NAMED_GROUP.sub(r"{\1}", pattern.lstrip("^").rstrip("$"))


def _headers(request: HttpRequest) -> dict[str, str]:
    """The propagation headers (traceparent, tracestate, baggage) under their lower-case names."""
    return {
        name[5:].lower().replace("_", "-"): value
        for name, value in request.META.items()
        if name in ("HTTP_TRACEPARENT", "HTTP_TRACESTATE", "HTTP_BAGGAGE")
    }


class TracingMiddleware:
    """Opens the request's span (after RequestIdMiddleware, so it carries the request id).

    Not installed at all unless tracing is configured (Django drops a middleware that
    raises MiddlewareNotUsed), so requests pay nothing while it is off.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not settings.TRACING_EXPORTERS and not tracing.enabled():
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_request(request.path):
            return self.get_response(request)
        ensure_configured()
        tracer = tracing.tracer()
        if tracer is None:
            return self.get_response(request)
        from opentelemetry.trace import SpanKind, Status, StatusCode

        method = request.method or ""
        with tracer.start_as_current_span(
            method,
            context=tracing.extract(_headers(request)),
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": request.path,
                REQUEST_ID_ATTRIBUTE: getattr(request, "request_id", ""),
            },
        ) as span:
            response = self.get_response(request)
            match = getattr(request, "resolver_match", None)
            if match is not None and match.route:
                route = route_template(match.route)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return response
