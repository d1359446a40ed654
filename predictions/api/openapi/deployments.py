"""The OpenAPI description of the deployment routes (predictions.deployments.views).

Their bodies are DRF serializers (deployments/serializers.py), so drf-spectacular
derives the schemas; the errors are the API's ``Error``.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view

from predictions.api.openapi.schemas import ref
from predictions.deployments.serializers import (
    ChangeSerializer,
    HistorySerializer,
    LabelSerializer,
    PublishedSerializer,
    PublishSerializer,
    TrafficSerializer,
    TrafficStateSerializer,
    VersionsSerializer,
)

TAG = "deployments"
_MEANINGS = {
    400: "The body is not a valid change (the message names the field).",
    401: "No or invalid credentials.",
    404: "Unknown model or version, or a model the caller may not deploy (the same answer).",
    409: "The change contradicts the deployment (e.g. a label or split points at the version, "
    "or the version is not AVAILABLE); or the model server refused it and it was undone.",
    413: "The archive is larger than PUBLISH_MAX_ARCHIVE_BYTES, or unpacks to more than "
    "PUBLISH_MAX_UNPACKED_BYTES or PUBLISH_MAX_FILES.",
    422: "The version was valid, but the model server could not load it; it was taken out.",
    429: "Too many requests (see Retry-After).",
    503: "The database or every model server is unreachable (see Retry-After).",
    507: "The model repository is full.",
}
_ACCEPTED = OpenApiResponse(
    ChangeSerializer,
    description="Recorded, but not every model server has it yet (see pending): "
    "reconciliation pushes it when they answer.",
)


def _errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ref("Error"), description=_MEANINGS[code]) for code in statuses}


_CHANGE = {200: ChangeSerializer, 202: _ACCEPTED}
# Written out rather than derived from PublishSerializer: a file field in a request is
# "format: binary" (a file picker in the docs UI), which drf-spectacular only emits with
# COMPONENT_SPLIT_REQUEST, a setting that would rename every other component.
_PUBLISH_FORM = {
    "type": "object",
    "properties": {
        "archive": {
            "type": "string",
            "format": "binary",
            "description": PublishSerializer().fields["archive"].help_text,
        },
        "version": {
            "type": "integer",
            "format": "int64",
            "minimum": 1,
            "description": PublishSerializer().fields["version"].help_text,
        },
        "wait": {
            "type": "boolean",
            "default": True,
            "description": PublishSerializer().fields["wait"].help_text,
        },
    },
    "required": ["archive"],
}

MODEL_VERSIONS = extend_schema_view(
    get=extend_schema(
        operation_id="listModelVersions",
        summary="The model's versions, their states and labels",
        tags=[TAG],
        responses={200: VersionsSerializer, **_errors(401, 404, 429, 503)},
    ),
    post=extend_schema(
        operation_id="publishVersion",
        summary="Publish a version (upload a SavedModel archive)",
        description="Multipart form: `archive`, a .tar.gz, .tar or .zip of one SavedModel "
        "version folder (saved_model.pb and variables/ at its top or in its one top-level "
        "folder). It is unpacked and checked in a temporary folder of the model repository "
        "(no links, devices, absolute or `..` paths; size and entry limits; saved_model.pb "
        "must parse and keep the signatures of the version clients use) and then renamed "
        "into `<base path>/<version>`, so the model server never sees half a version.",
        tags=[TAG],
        request={"multipart/form-data": _PUBLISH_FORM},
        responses={
            201: OpenApiResponse(
                PublishedSerializer, description="Published and AVAILABLE on every model server."
            ),
            202: OpenApiResponse(
                PublishedSerializer,
                description="Published; not yet AVAILABLE everywhere (state, pending).",
            ),
            **_errors(400, 401, 404, 409, 413, 422, 429, 503, 507),
        },
    ),
)
VERSION_RESOURCE = extend_schema_view(
    delete=extend_schema(
        operation_id="deleteVersion",
        summary="Delete a version (refused while a label or the traffic policy uses it)",
        description="The folder is moved to the repository's .retired/ folder, so a rollback "
        "can restore it.",
        tags=[TAG],
        responses={**_CHANGE, **_errors(401, 404, 409, 429, 503)},
    )
)
LABEL_RESOURCE = extend_schema_view(
    put=extend_schema(
        operation_id="moveLabel",
        summary="Point a label at a version",
        description="The version must be AVAILABLE on every model server that answers "
        "(TF Serving's rule for labels).",
        tags=[TAG],
        request={"application/json": LabelSerializer},
        responses={**_CHANGE, **_errors(400, 401, 404, 409, 429, 503)},
        examples=[OpenApiExample("canary", value={"version": 2}, request_only=True)],
    )
)
TRAFFIC = extend_schema_view(
    get=extend_schema(
        operation_id="getTraffic",
        summary="The traffic policy for requests that name no version",
        tags=[TAG],
        responses={200: TrafficStateSerializer, **_errors(401, 404, 429, 503)},
    ),
    put=extend_schema(
        operation_id="setTraffic",
        summary="Split, stick and mirror the requests that name no version",
        tags=[TAG],
        request={"application/json": TrafficSerializer},
        responses={**_CHANGE, **_errors(400, 401, 404, 409, 429, 503)},
        examples=[
            OpenApiExample(
                "canary 10%",
                value={
                    "split": {"stable": 90, "canary": 10},
                    "sticky": True,
                    "shadow": {"target": "canary", "percent": 5},
                },
                request_only=True,
            )
        ],
    ),
)
DEPLOYMENTS = extend_schema_view(
    get=extend_schema(
        operation_id="listDeployments",
        summary="The model's deployment history, newest first",
        tags=[TAG],
        responses={200: HistorySerializer, **_errors(401, 404, 429, 503)},
    )
)
ROLLBACK = extend_schema_view(
    post=extend_schema(
        operation_id="rollback",
        summary="Undo the model's newest change (repeat to go further back)",
        tags=[TAG],
        request=None,
        responses={**_CHANGE, **_errors(401, 404, 409, 429, 503)},
    )
)
