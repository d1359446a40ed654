"""HTTP endpoints. Each view parses the URL and body, calls one service, renders the result."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, parsers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

from predictions import health, services
from predictions.audit import entry_for
from predictions.callers import caller_of
from predictions.exceptions import INTERNAL_ERROR, error_body
from predictions.parsers import AnyContentTypeJSONParser, TFServingJSONParser
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


class ModelListView(ModelAPIView):
    """The models you may use, with their versions and states on the model server."""

    def get(self, request: Request) -> Response:
        models = services.list_models(
            caller_of(request), request_id=request.request_id, audit=entry_for(request)
        )
        for model in models:
            model.update(_model_links(request, model["name"]))
        return Response({"models": models})


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


class ModelInferenceView(ModelAPIView):
    """TF Serving's POST /v1/models/{name}[/versions/{v}|/labels/{l}]:predict|:classify|:regress.

    Body as TF Serving: {"instances": [...]} or {"inputs": ...} for predict,
    {"examples": [...]} for classify and regress; optional "signature_name".
    """

    parser_classes = [TFServingJSONParser, AnyContentTypeJSONParser]

    def post(
        self,
        request: Request,
        name: str,
        verb: str,
        version: str | None = None,
        label: str | None = None,
    ) -> Response:
        ref = services.resolve_model_ref(name, version, label)
        caller, audit = caller_of(request), entry_for(request)
        if verb == "predict":
            body = services.run_prediction(
                caller, ref, request.data, request_id=request.request_id, audit=audit
            )
        else:
            body = services.run_examples(
                caller, ref, verb, request.data, request_id=request.request_id, audit=audit
            )
        return Response(body)


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


class TokenObtainView(_TokenViewMixin, jwt_views.TokenObtainPairView):
    """POST username and password: an access token and a refresh token."""

    audit_method = "token"


class TokenRefreshView(_TokenViewMixin, jwt_views.TokenRefreshView):
    """POST a refresh token: a new access token and a new refresh token (the old one is
    blacklisted)."""

    audit_method = "token_refresh"


class TokenVerifyView(_TokenViewMixin, jwt_views.TokenVerifyView):
    """POST a token: 200 if it is valid."""

    audit_method = "token_verify"


# --- health -------------------------------------------------------------------------


class _ProbeView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


class LivenessView(_ProbeView):
    """The process answers HTTP. Touches neither the database nor the model server."""

    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class ReadinessView(_ProbeView):
    """Database, cache and model server reachable, every catalogue model AVAILABLE."""

    def get(self, request: Request) -> Response:
        readiness = health.check_readiness(request_id=request.request_id)
        code = status.HTTP_200_OK if readiness.ready else status.HTTP_503_SERVICE_UNAVAILABLE
        return Response(readiness.as_dict(), status=code)


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
