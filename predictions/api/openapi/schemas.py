"""OpenAPI components: TF Serving's JSON bodies and the authentication schemes.

The request and response bodies are TF Serving's JSON, which no DRF serializer
describes, so they are written here as JSON Schema components (added to the
schema by hooks.add_components).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import (
    SimpleJWTScheme,
    TokenObtainPairSerializerExtension,
    TokenRefreshSerializerExtension,
)
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

# --- security schemes ----------------------------------------------------------------

API_KEY = "apiKeyAuth"
SESSION = "cookieAuth"
METRICS_TOKEN = "metricsToken"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "predictions.access.authentication.ApiKeyAuthentication"
    name = API_KEY

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "An API key (made in the admin or with `manage.py create_api_key`). "
            "`Authorization: Api-Key <key>` works as well.",
        }


class VerifiedJWTScheme(SimpleJWTScheme):
    """simplejwt's bearer scheme, for its subclass that remembers verified tokens."""

    target_class = "predictions.access.authentication.VerifiedJWTAuthentication"


class GatewayTokenObtainPairSerializerScheme(TokenObtainPairSerializerExtension):
    target_class = "predictions.access.tokens.GatewayTokenObtainPairSerializer"


class GatewayTokenRefreshSerializerScheme(TokenRefreshSerializerExtension):
    target_class = "predictions.access.tokens.GatewayTokenRefreshSerializer"


JWT = "jwtAuth"  # the name drf-spectacular gives simplejwt's scheme

SECURITY_SCHEMES = {
    METRICS_TOKEN: {
        "type": "http",
        "scheme": "bearer",
        "description": "Only for GET /metrics: the value of METRICS_TOKEN (Prometheus scrapers).",
    },
}
# Swagger UI's Authorize dialog lists the schemes in this order, with these words:
# the token people paste comes first.
SCHEME_ORDER = (JWT, API_KEY, SESSION, METRICS_TOKEN)
SCHEME_DESCRIPTIONS = {
    JWT: "Paste the `access` value from POST /v1/auth/token (send username and password). "
    "It expires after JWT_ACCESS_TOKEN_SECONDS; POST its `refresh` value to "
    "/v1/auth/token/refresh for a new one.",
    SESSION: "Your browser session from /api-auth/login/: nothing to paste; this page sends it "
    "when you are logged in.",
}

# --- bodies ------------------------------------------------------------------------------


def ref(name: str) -> dict[str, str]:
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
            "model_version_status": {"type": "array", "items": ref("ModelVersionStatus")}
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
                            "items": ref("ModelVersionStatus"),
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
