"""The id of the request being handled, for logs and the model server.

A context variable (not a thread-local) so it also holds under ASGI.
"""

from __future__ import annotations

import contextvars
import uuid

MAX_REQUEST_ID_LENGTH = 128
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def current_request_id() -> str:
    return _request_id.get()


def set_request_id(request_id: str) -> contextvars.Token[str]:
    return _request_id.set(request_id)


def reset_request_id(token: contextvars.Token[str]) -> None:
    _request_id.reset(token)


def new_request_id() -> str:
    """The gateway's own id for a request: random, so no client can choose it, repeat
    another request's, or steer what is sampled by it."""
    return uuid.uuid4().hex


def usable_client_request_id(supplied: str | None) -> str:
    """The client's X-Request-ID, kept beside the gateway's own id for correlation, or ""
    if there is none or it is unusable.

    It travels on into audit records, log lines and a response header, so only short
    printable ASCII without spaces is kept.
    """
    if (
        supplied
        and len(supplied) <= MAX_REQUEST_ID_LENGTH
        and all("!" <= char <= "~" for char in supplied)
    ):
        return supplied
    return ""
