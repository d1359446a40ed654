"""The model routes. Each view parses the URL and body, calls one service, renders the result."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from predictions.access.callers import caller_of
from predictions.access.throttles import CallerModelThrottle, CallerThrottle
from predictions.api import examples, openapi
from predictions.api.exceptions import (
    INTERNAL_ERROR,
    error_body,
    error_response,
    request_limit_error,
)
from predictions.api.parsers import AnyContentTypeJSONParser, TFServingJSONParser
from predictions.audit.mixins import AuditedCallerMixin
from predictions.context import RequestContext
from predictions.inference import services
from predictions.tracing.authentication import TracedAuthenticationMixin
from tfserving.errors import GatewayError
from tfserving.models import ExamplesMethod, InferenceMethod


class ModelAPIView(TracedAuthenticationMixin, AuditedCallerMixin, APIView):
    throttle_classes = [CallerThrottle, CallerModelThrottle]


@openapi.MODEL_LIST
class ModelListView(ModelAPIView):
    """The models you may use, with their versions and states on the model server."""

    def get(self, request: Request) -> Response:
        models = services.list_models(RequestContext.of(request))
        for model in models:
            model.update(_model_links(request, model["name"]))
        return Response({"models": models})


@openapi.MODEL_STATUS
class ModelStatusView(ModelAPIView):
    """TF Serving's model status: GET /v1/models/{name}[/versions/{v}|/labels/{label}]."""

    def get(self, request: Request, **spec: str) -> Response:
        ref = services.resolve_model_ref(**spec)
        return Response(services.model_status(RequestContext.of(request), ref))


@openapi.MODEL_METADATA
class ModelMetadataView(ModelAPIView):
    """TF Serving's model metadata: GET /v1/models/{name}[/versions/{v}|/labels/{l}]/metadata."""

    def get(self, request: Request, **spec: str) -> Response:
        ref = services.resolve_model_ref(**spec)
        return Response(services.model_metadata(RequestContext.of(request), ref))


class _InferenceView(ModelAPIView):
    """POST /v1/models/{name}[/versions/{v}|/labels/{l}]:<method>, as TF Serving.

    In a browser, GET shows the signature the pre-filled form runs (TF Serving has no
    GET here, and API clients still get 405).
    """

    # TF Serving reads the body as JSON whatever its Content-Type (see parsers).
    parser_classes = [TFServingJSONParser, AnyContentTypeJSONParser]
    inference_method: InferenceMethod
    _example_body: dict | None = None

    @extend_schema(exclude=True)
    def get(self, request: Request, **spec: str) -> Response:
        if not isinstance(request.accepted_renderer, BrowsableAPIRenderer):
            raise exceptions.MethodNotAllowed(request.method)
        ref = services.resolve_model_ref(**spec)
        signatures = services.model_signatures(RequestContext.of(request), ref)
        self._example_body = examples.example_request(signatures, self.inference_method)
        return Response(examples.signature_summary(signatures, self._example_body))

    def example_request_body(self, request: Request) -> dict | None:
        """A body this model accepts, to pre-fill the browsable API's form."""
        if self._example_body is None and request.method == "POST":
            ref = services.resolve_model_ref(**self.kwargs)
            # Not on the request's audit entry: it records the POST that was answered.
            context = RequestContext(caller_of(request), getattr(request, "request_id", ""))
            try:
                signatures = services.model_signatures(context, ref)
            except GatewayError:
                return None  # the answer above says what is wrong
            self._example_body = examples.example_request(signatures, self.inference_method)
        return self._example_body

    @property
    def default_response_headers(self) -> dict[str, str]:
        headers = super().default_response_headers
        if not isinstance(getattr(self.request, "accepted_renderer", None), BrowsableAPIRenderer):
            headers["Allow"] = "POST, OPTIONS"  # GET is only the browser's page
        return headers

    def get_view_name(self) -> str:
        """``Predict: half_plus_two, label stable`` (plain ``Predict`` in breadcrumbs)."""
        name = super().get_view_name()
        spec = getattr(self, "kwargs", None) or {}
        if "name" not in spec:
            return name
        where = spec["name"]
        if spec.get("version"):
            where += f", version {spec['version']}"
        elif spec.get("label"):
            where += f", label {spec['label']}"
        if self._example_body is not None:
            where += f", signature {self._example_body.get('signature_name') or 'serving_default'}"
        return f"{name}: {where}"


@openapi.PREDICT
class PredictView(_InferenceView):
    """Run the model on a batch, as TF Serving does: {"instances": [...]} (row format) or
    {"inputs": ...} (columnar), with an optional "signature_name". The answer is
    {"predictions": [...]} or {"outputs": ...}."""

    inference_method = "predict"

    def post(self, request: Request, **spec: str) -> Response:
        ref = services.resolve_model_ref(**spec)
        return Response(services.run_prediction(RequestContext.of(request), ref, request.data))


class _ExamplesView(_InferenceView):
    inference_method: ExamplesMethod

    def post(self, request: Request, **spec: str) -> Response:
        ref = services.resolve_model_ref(**spec)
        body = services.run_examples(
            RequestContext.of(request), ref, self.inference_method, request.data
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


# --- errors outside the API's own views -------------------------------------------------


class MalformedRequestView(APIView):
    """Any other path under /v1/: a 404 worded as TF Serving words it."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        raise exceptions.NotFound(f"Malformed request: {request.method} {request.path}")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """Django's 400 path: a SuspiciousOperation raised outside a DRF view (a limit on a
    login page, a Host header not in ALLOWED_HOSTS), answered like the API's errors."""
    if not isinstance(exception, SuspiciousOperation):
        return JsonResponse(error_body("Bad request", "invalid_argument"), status=400)
    return error_response(request_limit_error(exception))


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("Not found", "not_found"), status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(INTERNAL_ERROR, status=500)
