"""Which requests are API requests, their declared size, and the request id every request
carries."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from predictions.request_id import accepted_request_id, reset_request_id, set_request_id

REQUEST_ID_HEADER = "X-Request-ID"
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
    """Takes the client's X-Request-ID (or makes one), for logs, gRPC metadata and the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = accepted_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id
        token = set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        response[REQUEST_ID_HEADER] = request_id
        return response
