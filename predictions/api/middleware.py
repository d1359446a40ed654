"""Which requests are API requests, their declared size, and the request ids every request
carries."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from predictions.request_id import (
    new_request_id,
    reset_request_id,
    set_request_id,
    usable_client_request_id,
)

REQUEST_ID_HEADER = "X-Request-ID"
CLIENT_REQUEST_ID_HEADER = "X-Client-Request-ID"
API_PATH_PREFIX = "/v1/"
# The API's own documentation (schema, docs page) is read by people, not called by clients.
DOCUMENTATION_PATHS = ("/v1/schema", "/v1/docs")


# A body's declared size is stored in a bigint column and compared against limits: a
# client may declare any number, so larger claims are read as this (about 8 EiB).
MAX_DECLARED_LENGTH = 2**63 - 1


def is_api_request(path: str) -> bool:
    return path.startswith(API_PATH_PREFIX) and not path.startswith(DOCUMENTATION_PATHS)


def declared_length(request: HttpRequest) -> int:
    """The request's Content-Length as a number in [0, MAX_DECLARED_LENGTH]; 0 if unusable."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
    return min(max(length, 0), MAX_DECLARED_LENGTH)


class RequestIdMiddleware:
    """Gives every request the gateway's own id (for the audit trail, logs, the model
    server and the X-Request-ID response header) and keeps the client's X-Request-ID
    beside it, echoed as X-Client-Request-ID."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = new_request_id()
        client_request_id = usable_client_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id
        request.client_request_id = client_request_id
        token = set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        response[REQUEST_ID_HEADER] = request_id
        if client_request_id:
            response[CLIENT_REQUEST_ID_HEADER] = client_request_id
        return response
