"""The OpenAPI description of each route, as drf-spectacular ``extend_schema_view`` objects
the views are decorated with. The examples are the demo models' (api/examples.py),
with the answers those models give.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view

from predictions.access.tokens import (
    GatewayTokenObtainPairSerializer,
    GatewayTokenRefreshSerializer,
)
from predictions.api import examples
from predictions.api.openapi.schemas import METRICS_TOKEN, SESSION, ref
from tfserving.models import InferenceMethod


def _errors(*statuses: int) -> dict[int, OpenApiResponse]:
    meanings = {
        400: "The body does not fit the signature (the message names the input).",
        401: "No or invalid credentials.",
        403: "Refused (e.g. a session request without its CSRF token).",
        404: "Unknown model, version or label, or a model the caller has no grant for.",
        413: "The body is larger than MAX_REQUEST_BYTES.",
        429: "Too many requests (see Retry-After).",
        503: (
            "The model server is unreachable, or too many calls to it (or to this model) are"
            " in progress: code `overloaded` (see Retry-After)."
        ),
        504: "The model server did not answer before the deadline.",
    }
    return {
        status: OpenApiResponse(ref("Error"), description=meanings[status]) for status in statuses
    }


_MODEL_ERRORS = (401, 404, 429, 503, 504)
_INFERENCE_ERRORS = (400, 401, 403, 404, 413, 429, 503, 504)


def _examples(method: InferenceMethod) -> list[OpenApiExample]:
    found = []
    for example in examples.demo_examples(method):
        found.append(
            OpenApiExample(
                example.key,
                summary=example.summary,
                value=example.request,
                request_only=True,
            )
        )
        found.append(
            OpenApiExample(
                example.key,
                summary=example.summary,
                value=example.response,
                response_only=True,
                status_codes=["200"],
            )
        )
    return found


PREDICT = extend_schema_view(
    post=extend_schema(
        summary="Predict (TF Serving)",
        tags=["inference"],
        request={"application/json": ref("PredictRequest")},
        responses={200: ref("PredictResponse"), **_errors(*_INFERENCE_ERRORS)},
        examples=_examples("predict"),
    )
)
CLASSIFY = extend_schema_view(
    post=extend_schema(
        summary="Classify tf.Examples (TF Serving)",
        tags=["inference"],
        request={"application/json": ref("ExamplesRequest")},
        responses={200: ref("ClassifyResponse"), **_errors(*_INFERENCE_ERRORS)},
        examples=_examples("classify"),
    )
)
REGRESS = extend_schema_view(
    post=extend_schema(
        summary="Regress tf.Examples (TF Serving)",
        tags=["inference"],
        request={"application/json": ref("ExamplesRequest")},
        responses={200: ref("RegressResponse"), **_errors(*_INFERENCE_ERRORS)},
        examples=_examples("regress"),
    )
)
MODEL_STATUS = extend_schema_view(
    get=extend_schema(
        summary="Model status (TF Serving)",
        tags=["models"],
        responses={200: ref("ModelStatus"), **_errors(*_MODEL_ERRORS)},
    )
)
MODEL_METADATA = extend_schema_view(
    get=extend_schema(
        summary="Model metadata: signatures (TF Serving)",
        tags=["models"],
        responses={200: ref("ModelMetadata"), **_errors(*_MODEL_ERRORS)},
    )
)
MODEL_LIST = extend_schema_view(
    get=extend_schema(
        operation_id="listModels",
        summary="The models you may use",
        tags=["models"],
        responses={200: ref("ModelList"), **_errors(401, 429, 503, 504)},
    )
)
LIVENESS = extend_schema_view(
    get=extend_schema(
        operation_id="liveness",
        summary="Liveness probe",
        tags=["operations"],
        responses={200: ref("Liveness")},
    )
)
READINESS = extend_schema_view(
    get=extend_schema(
        operation_id="readiness",
        summary="Readiness probe",
        tags=["operations"],
        responses={
            200: ref("Readiness"),
            503: OpenApiResponse(ref("Readiness"), description="A dependency is down."),
        },
    )
)
METRICS = extend_schema_view(
    get=extend_schema(
        operation_id="metrics",
        summary="Prometheus metrics",
        description="The Prometheus text format, summed over every worker process. Open to "
        "staff sessions, to `Authorization: Bearer <METRICS_TOKEN>` and to the addresses in "
        "METRICS_ALLOWED_IPS.",
        tags=["operations"],
        auth=[{METRICS_TOKEN: []}, {SESSION: []}],
        responses={
            (200, "text/plain"): OpenApiResponse(
                {"type": "string"}, description="Prometheus exposition format 0.0.4."
            ),
            **_errors(403),
        },
    )
)
OBTAIN_TOKEN = extend_schema_view(
    post=extend_schema(
        operation_id="obtainToken",
        summary="Log in: an access token and a refresh token",
        tags=["auth"],
        responses={
            200: GatewayTokenObtainPairSerializer,
            **_errors(401, 429),
        },
    )
)
REFRESH_TOKEN = extend_schema_view(
    post=extend_schema(
        operation_id="refreshToken",
        summary="A new access token (and refresh token) for a refresh token",
        tags=["auth"],
        responses={
            200: GatewayTokenRefreshSerializer,
            **_errors(401, 429),
        },
    )
)
VERIFY_TOKEN = extend_schema_view(
    post=extend_schema(
        operation_id="verifyToken",
        summary="Check a token",
        tags=["auth"],
        responses={
            200: OpenApiResponse(description="The token is valid."),
            **_errors(401, 429),
        },
    )
)
