"""The staff routes of payload logging: a model's policy, and its logged exchanges.

``/v1/models/{name}[/versions/{v}|/labels/{l}]/logging`` (GET, PUT, DELETE) and
``/v1/models/{name}/logs`` (GET, filtered and paginated). Like every model route, anyone
but staff gets the 404 of an unknown model.
"""

from __future__ import annotations

from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from predictions.audit.mixins import AuditedCallerMixin
from predictions.context import RequestContext
from predictions.inference.services import resolve_model_ref
from predictions.payloads import openapi, selectors, services
from predictions.payloads.serializers import PayloadLogSerializer, PolicySerializer
from predictions.tracing.authentication import TracedAuthenticationMixin


class _StaffModelView(TracedAuthenticationMixin, AuditedCallerMixin, APIView):
    schema = openapi.PayloadLoggingSchema()


@openapi.LOGGING_POLICY
class LoggingPolicyView(_StaffModelView):
    """The payload logging policy of a model, one of its versions or one of its labels."""

    serializer_class = PolicySerializer  # the browsable API's form

    def get_serializer(self, *args: object, **kwargs: object) -> PolicySerializer:
        return PolicySerializer(*args, **kwargs)

    def get(self, request: Request, **spec: str) -> Response:
        ref = resolve_model_ref(**spec)
        return Response(services.policy_of(RequestContext.of(request), ref))

    def put(self, request: Request, **spec: str) -> Response:
        ref = resolve_model_ref(**spec)
        context = RequestContext.of(request)
        services.require_staff(context.caller, ref)  # a 404 before any word about the body
        serializer = PolicySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(services.set_policy(context, ref, serializer.validated_data))

    def delete(self, request: Request, **spec: str) -> Response:
        ref = resolve_model_ref(**spec)
        return Response(services.delete_policy(RequestContext.of(request), ref))


class _NewestFirst(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500


@openapi.PAYLOAD_LOGS
class PayloadLogListView(_StaffModelView):
    """A model's logged exchanges, newest first: ?version=&status=&since=&until=&limit="""

    def get(self, request: Request, name: str) -> Response:
        ref = resolve_model_ref(name)
        context = RequestContext.of(request)
        context.audit.note_model("logs", ref)
        services.require_staff(context.caller, ref)
        log_filter = selectors.LogFilter.from_query(name, request.query_params)
        paginator = _NewestFirst()
        page = paginator.paginate_queryset(selectors.payload_logs(log_filter), request, self)
        return paginator.get_paginated_response(PayloadLogSerializer(page, many=True).data)
