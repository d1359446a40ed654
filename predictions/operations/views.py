"""Probes and metrics: /healthz, /readyz and /metrics."""

from __future__ import annotations

from django.http import HttpResponse
from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from predictions.api import openapi
from predictions.operations import health, metrics
from predictions.operations.permissions import METRICS_READERS, METRICS_READERS_MESSAGE


class _ProbeView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


@openapi.LIVENESS
class LivenessView(_ProbeView):
    """The process answers HTTP. Touches neither the database nor the model server."""

    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


@openapi.READINESS
class ReadinessView(_ProbeView):
    """Database, cache and model server reachable, every catalogue model AVAILABLE."""

    # A staff session (or the metrics token) sees which check failed and every model.
    authentication_classes = [SessionAuthentication]

    def get(self, request: Request) -> Response:
        readiness = health.check_readiness(request_id=request.request_id)
        code = status.HTTP_200_OK if readiness.ready else status.HTTP_503_SERVICE_UNAVAILABLE
        detail = health.may_see_detail(request, self)
        return Response(readiness.as_dict(detail=detail), status=code)


@openapi.METRICS
class MetricsView(APIView):
    """Prometheus metrics of every worker (see operations.metrics and permissions)."""

    # Scrapers send METRICS_TOKEN as a bearer token, which must not be read as a JWT.
    authentication_classes = [SessionAuthentication]
    permission_classes = [METRICS_READERS]
    throttle_classes: list = []

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple:
        # The body is Prometheus text whatever the scraper says it accepts.
        return super().perform_content_negotiation(request, force=True)

    def permission_denied(
        self, request: Request, message: str | None = None, code: str | None = None
    ) -> None:
        # Not DRF's "credentials were not provided": a token or an address would do as well.
        raise exceptions.PermissionDenied(METRICS_READERS_MESSAGE)

    def get(self, request: Request) -> HttpResponse:
        body, content_type = metrics.exposition()
        return HttpResponse(body, content_type=content_type)
