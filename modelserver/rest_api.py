"""TF Serving's REST API on this server (``--rest_api_port``), answered by the gRPC servicers.

Routes, status codes and error bodies are TF Serving's (model_servers/http_server.cc,
http_rest_api_handler.cc, http_rest_api_util.cc):

- ``POST /v1/models/{name}[/versions/{v}|/labels/{label}]:predict`` (also ``:classify``,
  ``:regress``); ``GET /v1/models/{name}[/versions/{v}|/labels/{label}][/metadata]``
- another request under /v1/: 400 ``Malformed request: POST /v1/...``; other paths 404
- errors: ``{"error": message}``, the HTTP status from the error's canonical code

A body is converted with the codec the gateway uses (tfserving.codec) against the
signatures GetModelMetadata reports, answered by the servicer method a gRPC call
reaches (so model specs, validation, batching, limits and error texts are the gRPC
API's), and the answer is rendered with the codec. Like TF Serving, the REST API has
no authentication.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import grpc
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)

from modelserver.http_server import Deadline, HttpRequest, HttpResponse, not_found
from modelserver.monitoring import REST_ENTRYPOINT, Metrics, PrometheusConfig
from modelserver.services import ModelService, PredictionService
from tfserving import jsonio
from tfserving.codec import (
    parse_examples_request,
    parse_predict_request,
    render_classify_response,
    render_model_metadata,
    render_model_status,
    render_predict_response,
    render_regress_response,
)
from tfserving.codec.json_values import require_object, signature_name_of
from tfserving.errors import InvalidInput, UpstreamError
from tfserving.json_limits import JsonLimits, check_json_limits
from tfserving.signatures import SIGNATURE_DEF_FIELD, signatures_from_metadata

log = logging.getLogger(__name__)

_ANY_REST_PATH = re.compile(r"/v1/.*", re.IGNORECASE | re.DOTALL)
_PREDICTION_PATH = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)",
    re.IGNORECASE | re.ASCII,
)
_STATUS_PATH = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?",
    re.IGNORECASE | re.ASCII,
)
_CORS_ORIGIN = re.compile(r"https?://")
_INT64_MAX = 2**63 - 1

# http_server.cc ToHTTPStatusCode.
HTTP_STATUS_BY_CODE: Mapping[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}
CORS_HEADERS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "POST, GET"),
    ("Access-Control-Allow-Headers", "Content-Type"),
)
# A session run that outlives RunOptions.timeout_in_ms fails with this (TensorFlow's text).
TIMEOUT_MESSAGE = "Timed out waiting for notification"
MAX_JSON_DEPTH = 32
BYTES_PER_JSON_ELEMENT = 16  # the gateway's ratio: 32 MiB bodies, 2 million elements


@dataclass(frozen=True)
class RestCall:
    """What TF Serving's metrics know of a REST request: model, API and outcome."""

    model_name: str
    api: str  # "predict", "classify", "regress", or "" for GET (TF Serving's label)
    code: grpc.StatusCode


class RestError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class _Route:
    model_name: str
    version: int | None
    label: str | None
    method: str  # predict/classify/regress as written in the path; "" for GET
    subresource: str
    matched: bool

    def model_spec(self, signature_name: str = "") -> model_pb2.ModelSpec:
        spec = model_pb2.ModelSpec(name=self.model_name, signature_name=signature_name)
        if self.version is not None:
            spec.version.value = self.version
        if self.label is not None:
            spec.version_label = self.label
        return spec


def _parse_route(http_method: str, path: str) -> _Route:
    """http_rest_api_util.cc ParseModelInfo: the model, version or label and method of a path."""
    pattern = {"POST": _PREDICTION_PATH, "GET": _STATUS_PATH}.get(http_method)
    match = pattern.fullmatch(path) if pattern is not None else None
    if match is None:
        return _Route("", None, None, "", "", matched=False)
    name, version_text, label, last = match.groups()
    version = None
    if version_text:
        version = int(version_text)
        if version > _INT64_MAX:
            raise RestError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Failed to convert version: {version_text} to numeric.",
            )
    method, subresource = (last or "", "") if http_method == "POST" else ("", last or "")
    return _Route(
        model_name=unquote(name) if name else "",
        version=version,
        label=unquote(label) if label else None,
        method=method,
        subresource=subresource,
        matched=True,
    )


class _Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class _RestCallContext:
    """The part of grpc.ServicerContext the servicers use, for a call made by the REST API:
    no metadata, abort() raises, and the time left is the REST timeout's."""

    def __init__(self, deadline: float | None) -> None:
        self._deadline = deadline

    def invocation_metadata(self) -> tuple:
        return ()

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise _Aborted(code, details)

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def is_active(self) -> bool:
        return True


class RestApi:
    """The HttpApp behind ``--rest_api_port``: the REST API, and the Prometheus page if on."""

    def __init__(
        self,
        prediction: PredictionService,
        models: ModelService,
        metrics: Metrics,
        *,
        timeout_seconds: float | None,
        max_request_bytes: int,
        prometheus: PrometheusConfig | None = None,
        cors: bool = False,
    ) -> None:
        self._prediction = prediction
        self._models = models
        self._metrics = metrics
        self._timeout_seconds = timeout_seconds
        self._json_limits = JsonLimits(
            max_depth=MAX_JSON_DEPTH,
            max_elements=max(1, max_request_bytes // BYTES_PER_JSON_ELEMENT),
        )
        self._prometheus = prometheus if prometheus is not None and prometheus.enable else None
        self._cors_headers = CORS_HEADERS if cors else ()

    # ---- HttpApp ----------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpResponse:
        if self._prometheus is not None and request.path == self._prometheus.path:
            page = self._metrics.prometheus_page().encode()
            return HttpResponse(200, page, content_type="text/plain")
        if not _ANY_REST_PATH.fullmatch(request.path):
            return not_found()
        if request.method == "OPTIONS":
            return self._preflight(request)
        return self._answer(request)

    def deadline(self, request: HttpRequest) -> Deadline | None:
        """TF Serving applies --rest_api_timeout_in_ms to predict, classify and regress runs."""
        if self._timeout_seconds is None or request.method != "POST":
            return None
        try:
            route = _parse_route(request.method, request.path)
        except RestError:
            return None
        if not route.matched:
            return None
        error = RestError(grpc.StatusCode.DEADLINE_EXCEEDED, TIMEOUT_MESSAGE)
        return Deadline(self._timeout_seconds, self._error(route, error))

    def observe(self, request: HttpRequest, response: HttpResponse, seconds: float) -> None:
        call = response.note
        if isinstance(call, RestCall):
            self._metrics.record(call.model_name, call.code, call.api, REST_ENTRYPOINT, seconds)

    # ---- the API ----------------------------------------------------------------------

    def _preflight(self, request: HttpRequest) -> HttpResponse:
        # TF Serving answers a CORS preflight without a body, and refuses one without an Origin.
        if _CORS_ORIGIN.search(request.headers.get("origin", "")):
            code, status = grpc.StatusCode.OK, 200
        else:
            code, status = grpc.StatusCode.FAILED_PRECONDITION, 400
        return HttpResponse(
            status, content_type=None, headers=self._cors_headers, note=RestCall("", "", code)
        )

    def _answer(self, request: HttpRequest) -> HttpResponse:
        route = _Route("", None, None, "", "", matched=False)
        try:
            route = _parse_route(request.method, request.path)
            body = self._dispatch(request, route)
        except RestError as error:
            return self._error(route, error)
        except InvalidInput as error:
            return self._error(route, RestError(grpc.StatusCode.INVALID_ARGUMENT, error.message))
        except UpstreamError as error:
            return self._error(route, RestError(error.grpc_code, error.details))
        return HttpResponse(
            200,
            jsonio.dumps(body),
            headers=self._cors_headers,
            note=RestCall(route.model_name, route.method, grpc.StatusCode.OK),
        )

    def _error(self, route: _Route, error: RestError) -> HttpResponse:
        return HttpResponse(
            HTTP_STATUS_BY_CODE.get(error.code, 500),
            jsonio.dumps({"error": error.message}),
            headers=self._cors_headers,
            note=RestCall(route.model_name, route.method, error.code),
        )

    def _dispatch(self, request: HttpRequest, route: _Route) -> dict:
        if request.method == "POST" and route.matched:
            answer = {
                "predict": self._predict,
                "classify": self._classify,
                "regress": self._regress,
            }.get(route.method)
            if answer is not None:
                return answer(route, request.body)
        elif request.method == "GET" and route.matched:
            if not route.model_name:
                raise RestError(grpc.StatusCode.INVALID_ARGUMENT, "Missing model name in request.")
            if route.subresource == "metadata":
                return self._metadata(route)
            return self._status(route)
        raise RestError(
            grpc.StatusCode.INVALID_ARGUMENT, f"Malformed request: {request.method} {request.path}"
        )

    def _document(self, body: bytes) -> dict[str, Any]:
        check_json_limits(body, self._json_limits)
        document = require_object(jsonio.loads(body))
        signature_name_of(document)  # TF Serving checks it before looking up the model
        return document

    def _predict(self, route: _Route, body: bytes) -> dict:
        document = self._document(body)
        metadata = self._call(
            self._prediction.GetModelMetadata,
            get_model_metadata_pb2.GetModelMetadataRequest(
                model_spec=route.model_spec(), metadata_field=[SIGNATURE_DEF_FIELD]
            ),
        )
        inputs = parse_predict_request(document, signatures_from_metadata(metadata))
        request = predict_pb2.PredictRequest(model_spec=route.model_spec(inputs.signature_name))
        for name, tensor in inputs.tensors.items():
            request.inputs[name].CopyFrom(tensor)
        response = self._call(self._prediction.Predict, request)
        return render_predict_response(response, inputs.columnar)

    def _classify(self, route: _Route, body: bytes) -> dict:
        signature_name, examples = parse_examples_request(self._document(body))
        request = classification_pb2.ClassificationRequest(
            model_spec=route.model_spec(signature_name), input=examples
        )
        return render_classify_response(self._call(self._prediction.Classify, request))

    def _regress(self, route: _Route, body: bytes) -> dict:
        signature_name, examples = parse_examples_request(self._document(body))
        request = regression_pb2.RegressionRequest(
            model_spec=route.model_spec(signature_name), input=examples
        )
        return render_regress_response(self._call(self._prediction.Regress, request))

    def _status(self, route: _Route) -> dict:
        request = get_model_status_pb2.GetModelStatusRequest(model_spec=route.model_spec())
        return render_model_status(self._call(self._models.GetModelStatus, request))

    def _metadata(self, route: _Route) -> dict:
        request = get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=route.model_spec(), metadata_field=[SIGNATURE_DEF_FIELD]
        )
        return render_model_metadata(self._call(self._prediction.GetModelMetadata, request))

    def _call(self, method: Callable[[Any, Any], Any], request: Any) -> Any:
        """A servicer method, called as gRPC calls it; its status becomes a RestError."""
        deadline = None
        if self._timeout_seconds is not None:
            deadline = time.monotonic() + self._timeout_seconds
        try:
            return method(request, _RestCallContext(deadline))
        except _Aborted as aborted:
            raise RestError(aborted.code, aborted.details) from None
