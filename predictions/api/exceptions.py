"""The one place where an error becomes a response: ``{"error": "<message>", "code": "<code>"}``.

TF Serving answers errors as ``{"error": "..."}``; the machine-readable ``code``
is added. Built on DRF's own ``exception_handler``, which already knows Django's
Http404 and PermissionDenied, DRF's exceptions and their headers (WWW-Authenticate,
Retry-After) and rolls back an atomic request; this handler adds the gateway's own
errors (GatewayError: validation, unknown models, upstream gRPC failures), Django's
request-limit errors (a body over the size limit, too many form fields or files), and
the wording. Those limit errors raised outside a DRF view (a login page, a Host
header not in ALLOWED_HOSTS) reach ``handler400`` (views.bad_request), which words
them the same way. Anything else is left to Django's 500 path:
``got_request_exception`` fires (error trackers, ADMINS mails), ``django.request``
logs it with the request id, and ``handler500`` (views.server_error) answers with
INTERNAL_ERROR, never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from tfserving.errors import GatewayError, InvalidInput, PayloadTooLarge, UpstreamError

log = logging.getLogger(__name__)
INTERNAL_ERROR = {"error": "Internal server error", "code": "internal"}


def error_body(message: str, code: str) -> dict[str, str]:
    return {"error": message, "code": code}


def error_response(error: GatewayError) -> JsonResponse:
    """A GatewayError answered outside DRF (middleware, Django's error handlers), in the
    API's format, with its status and headers."""
    return JsonResponse(
        error_body(error.message, error.code), status=error.status_code, headers=error.headers
    )


class _GatewayAPIError(exceptions.APIException):
    """A GatewayError in DRF's terms, so DRF's handler treats it as one of its own."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(detail=error.message, code=error.code)
        self.status_code = error.status_code
        self.headers = error.headers


def request_limit_error(exc: SuspiciousOperation) -> GatewayError:
    """Django's refusal of a request (a limit, a bad Host header) as the gateway's error."""
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return InvalidInput(f"Too many form fields: at most {limit} are accepted")
    if isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return InvalidInput(f"Too many files: at most {limit} are accepted")
    if isinstance(exc, DisallowedHost):
        return InvalidInput("Invalid Host header")
    return InvalidInput("Bad request")


def handle_exception(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER. None (unknown errors) makes DRF re-raise to Django."""
    if isinstance(exc, (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)):
        exc = request_limit_error(exc)
    if isinstance(exc, UpstreamError) and exc.status_code < 500 and exc.details != exc.message:
        # The client got the short form; the model server's whole text is kept here.
        log.info("Model server answered %s: %s", exc.grpc_code.name, exc.details)
    if isinstance(exc, GatewayError):
        exc = _GatewayAPIError(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    for name, value in getattr(exc, "headers", {}).items():
        response[name] = value
    default_code = getattr(exc, "default_code", "error")
    response.data = error_body(*_message_and_code(response.data, default_code))
    return response


def _message_and_code(detail: Any, default_code: str) -> tuple[str, str]:
    """One sentence and one code from DRF's detail (a string, a list, or a dict of them)."""
    if isinstance(detail, dict):
        if "detail" in detail:
            # DRF: {"detail": ...}; simplejwt adds "code" and
            # "messages": [{"message": "Token is expired"}].
            message, code = _message_and_code(detail["detail"], default_code)
            code = str(detail.get("code", code))
            reasons = [
                str(item["message"])
                for item in detail.get("messages", ())
                if isinstance(item, dict) and "message" in item
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
