"""The one place where an error becomes a response: ``{"error": "<message>", "code": "<code>"}``.

TF Serving answers errors as ``{"error": "..."}``; the machine-readable ``code``
is added. Covered: the gateway's own errors (GatewayError: validation, unknown
models, upstream gRPC failures), DRF's (authentication, permission, throttling,
parsing, method), Django's (404, PermissionDenied, a body over the size limit)
and anything unexpected, which is logged and answered with a plain 500: never a
traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from predictions.tfserving.errors import GatewayError, PayloadTooLarge

log = logging.getLogger(__name__)

INTERNAL_ERROR = {"error": "Internal server error", "code": "internal"}


def error_body(message: str, code: str) -> dict[str, str]:
    return {"error": message, "code": code}


def handle_exception(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER."""
    set_rollback()  # as DRF's own handler: undo an atomic request's writes
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    if isinstance(exc, GatewayError):
        return Response(error_body(exc.message, exc.code), exc.status_code, headers=exc.headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        return _api_exception_response(exc)
    log.error("Unhandled error in %s", context.get("view"), exc_info=exc)
    return Response(INTERNAL_ERROR, status.HTTP_500_INTERNAL_SERVER_ERROR)


def _api_exception_response(exc: exceptions.APIException) -> Response:
    headers = {}
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)
    if wait is not None:
        headers["Retry-After"] = str(max(1, round(wait)))
    message, code = _message_and_code(exc.detail, exc.default_code)
    return Response(error_body(message, code), exc.status_code, headers=headers)


def _message_and_code(detail: Any, default_code: str) -> tuple[str, str]:
    """One sentence and one code from DRF's detail (a string, a list, or a dict of them)."""
    if isinstance(detail, dict):
        if "detail" in detail:
            # simplejwt: {"detail": ..., "code": ..., "messages": [{"message": "Token is expired"}]}
            message, code = _message_and_code(detail["detail"], default_code)
            code = str(detail.get("code", code))
            reasons = [
                str(item["message"]) for item in detail.get("messages", ()) if "message" in item
            ]
            if reasons:
                message = f"{message}: {reasons[0]}"
            return message, code
        parts = []
        code = default_code
        for field, value in detail.items():
            text, code = _message_and_code(value, default_code)
            parts.append(text if field == "non_field_errors" else f"{field}: {text}")
        return "; ".join(parts), code
    if isinstance(detail, list):
        if not detail:
            return "", default_code
        texts_and_codes = [_message_and_code(item, default_code) for item in detail]
        return " ".join(text for text, _ in texts_and_codes), texts_and_codes[0][1]
    return str(detail), getattr(detail, "code", None) or default_code
