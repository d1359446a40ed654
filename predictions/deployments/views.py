"""The deployment routes. Each view parses the URL and body, calls one service, renders.

They sit beside TF Serving's own paths: GET /v1/models/{name}/versions/{v} and
.../labels/{label} stay TF Serving's status, the same paths take DELETE and PUT here.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from predictions.api import openapi
from predictions.api.parsers import AnyContentTypeJSONParser, TFServingJSONParser
from predictions.api.views import ModelAPIView, ModelStatusView
from predictions.context import RequestContext
from predictions.deployments import publishing, services
from predictions.deployments.serializers import (
    ChangeSerializer,
    DeploymentEventSerializer,
    LabelSerializer,
    PublishedSerializer,
    PublishSerializer,
    TrafficSerializer,
)
from predictions.deployments.services import ChangeResult
from predictions.deployments.uploads import ArchiveUploadHandler


def _valid(serializer_class: type, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)  # the API's handler words the errors
    return serializer.validated_data


def _change_response(result: ChangeResult) -> Response:
    """200 once every model server has the change, 202 while some do not yet."""
    code = status.HTTP_200_OK if result.applied else status.HTTP_202_ACCEPTED
    return Response(ChangeSerializer(result).data, status=code)


@openapi.MODEL_VERSIONS
class ModelVersionsView(ModelAPIView):
    """The model's versions (GET), or publish a new one (POST, multipart: ``archive``, a
    .tar.gz or .zip of one SavedModel version folder; optional ``version`` and ``wait``)."""

    parser_classes = [MultiPartParser]
    serializer_class = PublishSerializer  # the browsable API's upload form

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        # Before anything reads the body (a session's CSRF check reads the form).
        self.upload_handler = ArchiveUploadHandler(settings.PUBLISH_MAX_ARCHIVE_BYTES, request)
        request.upload_handlers = [self.upload_handler]
        return super().initialize_request(request, *args, **kwargs)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        self.upload_handler.close()  # the received archive is deleted, whatever happened
        return super().finalize_response(request, response, *args, **kwargs)

    def get(self, request: Request, name: str) -> Response:
        return Response(services.model_versions(RequestContext.of(request), name))

    def post(self, request: Request, name: str) -> Response:
        def read_upload() -> publishing.Upload:
            form = _valid(PublishSerializer, request.data)
            return publishing.Upload(form["archive"], form.get("version"), form["wait"])

        result = publishing.publish_version(RequestContext.of(request), name, read_upload)
        served = result.applied and result.extra["state"] == "AVAILABLE"
        code = status.HTTP_201_CREATED if served else status.HTTP_202_ACCEPTED
        body = {
            "model": result.model,
            "deployment": result.deployment,
            "applied": result.applied,
            "pending": result.pending,
            **result.extra,
        }
        return Response(PublishedSerializer(body).data, status=code)


@openapi.VERSION_RESOURCE
class VersionView(ModelStatusView):
    """TF Serving's status of one version (GET), or delete the version (DELETE)."""

    def delete(self, request: Request, name: str, version: str) -> Response:
        result = services.delete_version(RequestContext.of(request), name, int(version))
        return _change_response(result)


@openapi.LABEL_RESOURCE
class LabelView(ModelStatusView):
    """TF Serving's status (GET), or point the label at a version (PUT ``{"version": N}``)."""

    parser_classes = [TFServingJSONParser, AnyContentTypeJSONParser]
    serializer_class = LabelSerializer  # the browsable API's PUT form

    def put(self, request: Request, name: str, label: str) -> Response:
        # Whether a body is valid does not depend on the model: callers without the
        # permission learn nothing from the 400, and get the unknown model's 404 otherwise.
        version = _valid(LabelSerializer, request.data)["version"]
        return _change_response(
            services.move_label(RequestContext.of(request), name, label, version)
        )


@openapi.TRAFFIC
class TrafficView(ModelAPIView):
    """How requests that name no version are served: a weighted split between labels or
    versions, optionally sticky per caller, and an optional shadow copy."""

    parser_classes = [TFServingJSONParser, AnyContentTypeJSONParser]
    serializer_class = TrafficSerializer  # the browsable API's PUT form

    def get(self, request: Request, name: str) -> Response:
        return Response(services.traffic(RequestContext.of(request), name))

    def put(self, request: Request, name: str) -> Response:
        policy = _valid(TrafficSerializer, request.data)  # as for labels: model-independent
        result = services.set_traffic(
            RequestContext.of(request), name, policy["split"], policy["sticky"], policy["shadow"]
        )
        return _change_response(result)


@openapi.DEPLOYMENTS
class DeploymentHistoryView(ModelAPIView):
    """Every change to the model's deployment, newest first, with its state before and after."""

    def get(self, request: Request, name: str) -> Response:
        events = services.deployment_history(RequestContext.of(request), name)
        return Response(
            {"model": name, "deployments": DeploymentEventSerializer(events, many=True).data}
        )


@openapi.ROLLBACK
class RollbackView(ModelAPIView):
    """Undo the model's newest change (again: the one before), restoring its previous state."""

    parser_classes = [TFServingJSONParser, AnyContentTypeJSONParser]

    def post(self, request: Request, name: str) -> Response:
        return _change_response(services.rollback(RequestContext.of(request), name))
