"""The OpenAPI description of the payload logging routes (drf-spectacular)."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)

from predictions.api.openapi.hooks import GatewayAutoSchema
from predictions.api.openapi.schemas import ref
from predictions.payloads.serializers import (
    PayloadLogSerializer,
    PolicyResponseSerializer,
    PolicySerializer,
)

_TAG = "payload logging"
_NOT_STAFF = OpenApiResponse(
    ref("Error"), description="Unknown model, or the caller is not staff (the same answer)."
)
_ERRORS = {
    401: OpenApiResponse(ref("Error"), description="No or invalid credentials."),
    404: _NOT_STAFF,
}
_VERBS = {"GET": "get", "PUT": "set", "DELETE": "delete"}


class PayloadLoggingSchema(GatewayAutoSchema):
    """Operation ids per route: getLoggingPolicy, setLoggingPolicyVersion, listPayloadLogs..."""

    def get_operation_id(self) -> str:
        if self.path.endswith("/logs"):
            return "listPayloadLogs"
        action = f"{_VERBS[self.method]}LoggingPolicy"
        if "{version}" in self.path:
            return action + "Version"
        if "{label}" in self.path:
            return action + "Label"
        return action


LOGGING_POLICY = extend_schema_view(
    get=extend_schema(
        summary="A model's payload logging policy",
        tags=[_TAG],
        responses={200: PolicyResponseSerializer, **_ERRORS},
    ),
    put=extend_schema(
        summary="Set a model's payload logging policy (staff)",
        description="Fields left out take their defaults. Every change is recorded with "
        "the policy before and after (admin: payload policy changes).",
        tags=[_TAG],
        request=PolicySerializer,
        responses={
            200: PolicyResponseSerializer,
            400: OpenApiResponse(ref("Error"), description="The message names the field."),
            **_ERRORS,
        },
    ),
    delete=extend_schema(
        summary="Remove a model's payload logging policy (staff)",
        tags=[_TAG],
        responses={200: PolicyResponseSerializer, **_ERRORS},
    ),
)

PAYLOAD_LOGS = extend_schema_view(
    get=extend_schema(
        summary="A model's logged exchanges, newest first (staff)",
        tags=[_TAG],
        parameters=[
            OpenApiParameter("version", int, description="Only this model version."),
            OpenApiParameter("status", str, description="An HTTP status, or ok, error, 4xx, 5xx."),
            OpenApiParameter(
                "since", str, description="ISO 8601 date or time, or an age such as 7d."
            ),
            OpenApiParameter("until", str, description="ISO 8601 date or time (exclusive)."),
            OpenApiParameter("limit", int, description="Exchanges per page (50; at most 500)."),
            OpenApiParameter("cursor", str, description="The page (from next / previous)."),
        ],
        responses={
            200: PayloadLogSerializer(many=True),
            400: OpenApiResponse(ref("Error"), description="The message names the parameter."),
            **_ERRORS,
        },
    )
)
