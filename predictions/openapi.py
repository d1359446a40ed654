"""The OpenAPI 3 description of the API (drf-spectacular): bodies, examples, auth schemes.

The request and response bodies are TF Serving's JSON, which no DRF serializer
describes, so they are written here as JSON Schema components. The examples are
the demo models' (predictions.examples), with the answers those models give.
Views are decorated with the ``extend_schema_view`` objects defined here; settings name the
hooks and the AutoSchema.
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import (
    TokenObtainPairSerializerExtension,
    TokenRefreshSerializerExtension,
)
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)

from predictions import examples
from predictions.middleware import DOCUMENTATION_PATHS
from predictions.tokens import GatewayTokenObtainPairSerializer, GatewayTokenRefreshSerializer

# --- security schemes ----------------------------------------------------------------

JWT = "jwtAuth"  # the name drf-spectacular gives simplejwt's scheme
API_KEY = "apiKeyAuth"
SESSION = "cookieAuth"
METRICS_TOKEN = "metricsToken"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "predictions.authentication.ApiKeyAuthentication"
    name = API_KEY

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "An API key (made in the admin or with `manage.py create_api_key`). "
            "`Authorization: Api-Key <key>` works as well.",
        }


class GatewayTokenObtainPairSerializerScheme(TokenObtainPairSerializerExtension):
    target_class = "predictions.tokens.GatewayTokenObtainPairSerializer"


class GatewayTokenRefreshSerializerScheme(TokenRefreshSerializerExtension):
    target_class = "predictions.tokens.GatewayTokenRefreshSerializer"


_SECURITY_SCHEMES = {
    METRICS_TOKEN: {
        "type": "http",
        "scheme": "bearer",
        "description": "The value of METRICS_TOKEN (for Prometheus scrapers).",
    },
}

# --- bodies ------------------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_TENSOR = {
    "description": "A tensor as nested JSON lists (numbers, booleans, strings, or "
    '{"b64": "..."} for binary strings); a scalar for rank 0.',
}
_SIGNATURE_NAME = {
    "type": "string",
    "default": "serving_default",
    "description": "The SignatureDef to run.",
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "description": 'Every error, as TF Serving words it, plus a machine-readable "code".',
        "properties": {
            "error": {"type": "string", "example": "Servable not found for request: Latest(nope)"},
            "code": {"type": "string", "example": "not_found"},
        },
        "required": ["error"],
    },
    "PredictRequest": {
        "type": "object",
        "description": "TF Serving's predict body: row format (`instances`) or columnar "
        "format (`inputs`), never both.",
        "properties": {
            "signature_name": _SIGNATURE_NAME,
            "instances": {
                "type": "array",
                "items": {},
                "description": "Row format: one item per example. With one input, each item "
                "is that input's value; with several, an object of named values.",
            },
            "inputs": {
                **_TENSOR,
                "description": "Columnar format: the tensor of the only input, or an object "
                "of named tensors (batch dimension first).",
            },
        },
        "oneOf": [{"required": ["instances"]}, {"required": ["inputs"]}],
    },
    "PredictResponse": {
        "type": "object",
        "description": "`predictions` for row requests, `outputs` for columnar ones. One "
        "output: its values directly; several: named. Outputs whose name ends in `_bytes` "
        'come back as {"b64": "..."}.',
        "properties": {
            "predictions": {"type": "array", "items": {}},
            "outputs": _TENSOR,
        },
    },
    "ExamplesRequest": {
        "type": "object",
        "description": "TF Serving's classify and regress body: tf.Example features as JSON.",
        "properties": {
            "signature_name": _SIGNATURE_NAME,
            "context": {
                "type": "object",
                "additionalProperties": True,
                "description": "Features common to every example.",
            },
            "examples": {
                "type": "array",
                "items": {"type": "object", "additionalProperties": True},
                "description": "One object of named features (number, string or list) per example.",
            },
        },
        "required": ["examples"],
    },
    "ClassifyResponse": {
        "type": "object",
        "properties": {
            "results": {
                "type": "array",
                "description": "Per example, a list of [class label, score] pairs.",
                "items": {"type": "array", "items": {"type": "array", "items": {}}},
            }
        },
    },
    "RegressResponse": {
        "type": "object",
        "properties": {
            "results": {
                "type": "array",
                "items": {"type": "number"},
                "description": "One value per example.",
            }
        },
    },
    "ModelVersionStatus": {
        "type": "object",
        "properties": {
            "version": {"type": "string", "example": "2"},
            "state": {
                "type": "string",
                "enum": ["UNKNOWN", "START", "LOADING", "AVAILABLE", "UNLOADING", "END"],
            },
            "status": {
                "type": "object",
                "properties": {
                    "error_code": {"type": "string", "example": "OK"},
                    "error_message": {"type": "string"},
                },
            },
        },
    },
    "ModelStatus": {
        "type": "object",
        "properties": {
            "model_version_status": {"type": "array", "items": _ref("ModelVersionStatus")}
        },
    },
    "ModelMetadata": {
        "type": "object",
        "properties": {
            "model_spec": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "signature_name": {"type": "string"},
                    "version": {"type": "string"},
                },
            },
            "metadata": {
                "type": "object",
                "properties": {
                    "signature_def": {
                        "type": "object",
                        "description": "TF Serving's SignatureDefMap as JSON.",
                        "additionalProperties": True,
                    }
                },
            },
        },
    },
    "ModelList": {
        "type": "object",
        "properties": {
            "models": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "model_version_status": {
                            "type": "array",
                            "items": _ref("ModelVersionStatus"),
                        },
                        "url": {"type": "string", "format": "uri"},
                        "metadata_url": {"type": "string", "format": "uri"},
                        "predict_url": {"type": "string", "format": "uri"},
                    },
                },
            }
        },
    },
    "Liveness": {
        "type": "object",
        "properties": {"status": {"type": "string", "example": "ok"}},
    },
    "Readiness": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ready", "unavailable"]},
            "checks": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": '"ok" or what failed, per dependency.',
            },
            "models": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "The state of each catalogue model.",
            },
        },
    },
}


def _errors(*statuses: int) -> dict[int, OpenApiResponse]:
    meanings = {
        400: "The body does not fit the signature (the message names the input).",
        401: "No or invalid credentials.",
        403: "Refused (e.g. a session request without its CSRF token).",
        404: "Unknown model, version or label, or a model the caller has no grant for.",
        413: "The body is larger than MAX_REQUEST_BYTES.",
        429: "Too many requests (see Retry-After).",
        503: "The model server is unreachable (see Retry-After).",
        504: "The model server did not answer before the deadline.",
    }
    return {
        status: OpenApiResponse(_ref("Error"), description=meanings[status]) for status in statuses
    }


_MODEL_ERRORS = (401, 404, 429, 503, 504)
_INFERENCE_ERRORS = (400, 401, 403, 404, 413, 429, 503, 504)


def _examples(method: examples.InferenceMethod) -> list[OpenApiExample]:
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
        request={"application/json": _ref("PredictRequest")},
        responses={200: _ref("PredictResponse"), **_errors(*_INFERENCE_ERRORS)},
        examples=_examples("predict"),
    )
)
CLASSIFY = extend_schema_view(
    post=extend_schema(
        summary="Classify tf.Examples (TF Serving)",
        tags=["inference"],
        request={"application/json": _ref("ExamplesRequest")},
        responses={200: _ref("ClassifyResponse"), **_errors(*_INFERENCE_ERRORS)},
        examples=_examples("classify"),
    )
)
REGRESS = extend_schema_view(
    post=extend_schema(
        summary="Regress tf.Examples (TF Serving)",
        tags=["inference"],
        request={"application/json": _ref("ExamplesRequest")},
        responses={200: _ref("RegressResponse"), **_errors(*_INFERENCE_ERRORS)},
        examples=_examples("regress"),
    )
)
MODEL_STATUS = extend_schema_view(
    get=extend_schema(
        summary="Model status (TF Serving)",
        tags=["models"],
        responses={200: _ref("ModelStatus"), **_errors(*_MODEL_ERRORS)},
    )
)
MODEL_METADATA = extend_schema_view(
    get=extend_schema(
        summary="Model metadata: signatures (TF Serving)",
        tags=["models"],
        responses={200: _ref("ModelMetadata"), **_errors(*_MODEL_ERRORS)},
    )
)
MODEL_LIST = extend_schema_view(
    get=extend_schema(
        operation_id="listModels",
        summary="The models you may use",
        tags=["models"],
        responses={200: _ref("ModelList"), **_errors(401, 429, 503, 504)},
    )
)
LIVENESS = extend_schema_view(
    get=extend_schema(
        operation_id="liveness",
        summary="Liveness probe",
        tags=["operations"],
        responses={200: _ref("Liveness")},
    )
)
READINESS = extend_schema_view(
    get=extend_schema(
        operation_id="readiness",
        summary="Readiness probe",
        tags=["operations"],
        responses={
            200: _ref("Readiness"),
            503: OpenApiResponse(_ref("Readiness"), description="A dependency is down."),
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

# --- hooks and the AutoSchema ------------------------------------------------------------

_PATH_PARAMETERS = {
    "name": OpenApiParameter(
        "name",
        str,
        OpenApiParameter.PATH,
        description="The model's name.",
        examples=[OpenApiExample("half_plus_two", value="half_plus_two")],
    ),
    "version": OpenApiParameter(
        "version",
        int,
        OpenApiParameter.PATH,
        description="A version number the model server has loaded.",
        examples=[OpenApiExample("2", value=2)],
    ),
    "label": OpenApiParameter(
        "label",
        str,
        OpenApiParameter.PATH,
        description="A version label from the model server's config (e.g. stable, canary).",
        examples=[OpenApiExample("canary", value="canary")],
    ),
}
_PATH_VARIABLE = re.compile(r"{(\w+)}")


class GatewayAutoSchema(AutoSchema):
    """Types and examples for the model path parameters, whichever route a view serves."""

    def get_override_parameters(self) -> list[OpenApiParameter]:
        variables = _PATH_VARIABLE.findall(self.path)
        return [_PATH_PARAMETERS[name] for name in variables if name in _PATH_PARAMETERS]

    def get_operation_id(self) -> str:
        """``predict``, ``predictVersion``, ``predictLabel``, ``getModelStatus``... per route."""
        path = self.path
        if ":" in path.rsplit("/", 1)[-1]:
            action = path.rsplit(":", 1)[1]
        elif path.endswith("/metadata"):
            action = "getModelMetadata"
        elif "{name}" in path:
            action = "getModelStatus"
        else:
            return super().get_operation_id()
        if "{version}" in path:
            return action + "Version"
        if "{label}" in path:
            return action + "Label"
        return action


def public_endpoints(endpoints: list[tuple]) -> list[tuple]:
    """Preprocessing hook: the list route without its optional slash; no documentation pages."""
    kept = []
    for path, path_regex, method, callback in endpoints:
        if path.startswith(DOCUMENTATION_PATHS):
            continue
        kept.append((path.rstrip("/") or "/", path_regex, method, callback))
    return kept


def add_components(result: dict, generator: object, request: object, public: bool) -> dict:
    """Postprocessing hook: the TF Serving body schemas and the metrics token scheme."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    components.setdefault("securitySchemes", {}).update(_SECURITY_SCHEMES)
    return result
