"""HTTP endpoints. Each view parses the URL and body, calls one service, renders the result."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, parsers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

from predictions import health, metrics, openapi, services
from predictions.audit import entry_for
from predictions.callers import caller_of
from predictions.examples import InferenceMethod
from predictions.exceptions import INTERNAL_ERROR, error_body
from predictions.metrics_access import MetricsReader
from predictions.parsers import AnyContentTypeJSONParser, TFServingJSONParser
from predictions.services import ExamplesMethod
from predictions.throttles import CallerModelThrottle, CallerThrottle, TokenThrottle


class AuditedCallerMixin:
    """Puts the authenticated caller on the request's audit entry (failed auth: anonymous)."""

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)  # type: ignore[misc]
        entry = entry_for(request)
        if entry is not None:
            entry.caller = caller_of(request)


class ModelAPIView(AuditedCallerMixin, APIView):
    throttle_classes = [CallerThrottle, CallerModelThrottle]


@openapi.MODEL_LIST
class ModelListView(ModelAPIView):
    """The models you may use, with their versions and states on the model server."""

    def get(self, request: Request) -> Response:
        models = services.list_models(
            caller_of(request), request_id=request.request_id, audit=entry_for(request)
        )
        for model in models:
            model.update(_model_links(request, model["name"]))
        return Response({"models": models})


@openapi.MODEL_STATUS
class ModelStatusView(ModelAPIView):
    """TF Serving's model status: GET /v1/models/{name}[/versions/{v}|/labels/{label}]."""

    def get(
        self, request: Request, name: str, version: str | None = None, label: str | None = None
    ) -> Response:
        ref = services.resolve_model_ref(name, version, label)
        body = services.model_status(
            caller_of(request), ref, request_id=request.request_id, audit=entry_for(request)
        )
        return Response(body)


@openapi.MODEL_METADATA
class ModelMetadataView(ModelAPIView):
    """TF Serving's model metadata: GET /v1/models/{name}[/versions/{v}|/labels/{l}]/metadata."""

    def get(
        self, request: Request, name: str, version: str | None = None, label: str | None = None
    ) -> Response:
        ref = services.resolve_model_ref(name, version, label)
        body = services.model_metadata(
            caller_of(request), ref, request_id=request.request_id, audit=entry_for(request)
        )
        return Response(body)


class _InferenceView(ModelAPIView):
    """POST /v1/models/{name}[/versions/{v}|/labels/{l}]:<method>, as TF Serving."""

    # TF Serving reads the body as JSON whatever its Content-Type (see parsers).
    parser_classes = [TFServingJSONParser, AnyContentTypeJSONParser]
    inference_method: InferenceMethod

    def example_request_body(self, request: Request) -> dict | None:
        """A body this model accepts, to pre-fill the browsable API's form."""
        ref = services.resolve_model_ref(**self.kwargs)
        return services.example_request(caller_of(request), ref, self.inference_method)


@openapi.PREDICT
class PredictView(_InferenceView):
    """Run the model on a batch, as TF Serving does: {"instances": [...]} (row format) or
    {"inputs": ...} (columnar), with an optional "signature_name". The answer is
    {"predictions": [...]} or {"outputs": ...}."""

    inference_method = "predict"

    def post(
        self, request: Request, name: str, version: str | None = None, label: str | None = None
    ) -> Response:
        ref = services.resolve_model_ref(name, version, label)
        body = services.run_prediction(
            caller_of(request),
            ref,
            request.data,
            request_id=request.request_id,
            audit=entry_for(request),
        )
        return Response(body)


class _ExamplesView(_InferenceView):
    inference_method: ExamplesMethod

    def post(
        self, request: Request, name: str, version: str | None = None, label: str | None = None
    ) -> Response:
        ref = services.resolve_model_ref(name, version, label)
        body = services.run_examples(
            caller_of(request),
            ref,
            self.inference_method,
            request.data,
            request_id=request.request_id,
            audit=entry_for(request),
        )
        return Response(body)


@openapi.CLASSIFY
class ClassifyView(_ExamplesView):
    """Classify tf.Examples given as JSON features: {"examples": [{...}]} with the
    signature's "signature_name". The answer is {"results": [[[label, score], ...], ...]}."""

    inference_method = "classify"


@openapi.REGRESS
class RegressView(_ExamplesView):
    """Regress tf.Examples given as JSON features: {"examples": [{...}]} with the
    signature's "signature_name". The answer is {"results": [value, ...]}."""

    inference_method = "regress"


def _model_links(request: Request, name: str) -> dict[str, str]:
    base = request.build_absolute_uri(f"/v1/models/{quote(name, safe='')}")
    return {"url": base, "metadata_url": f"{base}/metadata", "predict_url": f"{base}:predict"}


# --- tokens ---------------------------------------------------------------------

_TOKEN_PARSERS = [TFServingJSONParser, parsers.FormParser, parsers.MultiPartParser]


class _TokenViewMixin(AuditedCallerMixin):
    throttle_classes = [TokenThrottle]
    parser_classes = _TOKEN_PARSERS
    audit_method = ""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        entry = entry_for(request)
        if entry is not None:
            entry.method = self.audit_method
        super().initial(request, *args, **kwargs)  # type: ignore[misc]


@openapi.OBTAIN_TOKEN
class TokenObtainView(_TokenViewMixin, jwt_views.TokenObtainPairView):
    """POST username and password: an access token and a refresh token."""

    audit_method = "token"


@openapi.REFRESH_TOKEN
class TokenRefreshView(_TokenViewMixin, jwt_views.TokenRefreshView):
    """POST a refresh token: a new access token and a new refresh token (the old one is
    blacklisted)."""

    audit_method = "token_refresh"


@openapi.VERIFY_TOKEN
class TokenVerifyView(_TokenViewMixin, jwt_views.TokenVerifyView):
    """POST a token: 200 if it is valid."""

    audit_method = "token_verify"


# --- health -------------------------------------------------------------------------


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

    def get(self, request: Request) -> Response:
        readiness = health.check_readiness(request_id=request.request_id)
        code = status.HTTP_200_OK if readiness.ready else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(readiness.as_dict(), status=code)


@openapi.METRICS
class MetricsView(APIView):
    """Prometheus metrics of every worker (see predictions.metrics and metrics_access)."""

    # Scrapers send METRICS_TOKEN as a bearer token, which must not be read as a JWT.
    authentication_classes = [SessionAuthentication]
    permission_classes = [MetricsReader]
    throttle_classes: list = []

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple:
        # The body is Prometheus text whatever the scraper says it accepts.
        return super().perform_content_negotiation(request, force=True)

    def permission_denied(
        self, request: Request, message: str | None = None, code: str | None = None
    ) -> None:
        # Not DRF's "credentials were not provided": a token or an address would do as well.
        raise exceptions.PermissionDenied(MetricsReader.message)

    def get(self, request: Request) -> HttpResponse:
        body, content_type = metrics.exposition()
        return HttpResponse(body, content_type=content_type)


# --- errors outside the API's own views -------------------------------------------------


class MalformedRequestView(APIView):
    """Any other path under /v1/: a 404 worded as TF Serving words it."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        raise exceptions.NotFound(f"Malformed request: {request.method} {request.path}")


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("Not found", "not_found"), status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(INTERNAL_ERROR, status=500)
