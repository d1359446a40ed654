"""Client-facing errors and the gRPC status -> HTTP status mapping.

Every error a caller may see is a ``GatewayError``: it carries the HTTP status,
a machine-readable ``code`` and a message meant for the client. The web tier turns
them into ``{"error": message, "code": code}`` in one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import grpc

from tfserving.models import ModelRef

_HTTP_STATUS_BY_GRPC_CODE: Mapping[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}

# How long a client should wait before retrying after a 503 (seconds). The channel
# reconnects within about a second (see client.py), so a short hint is honest.
RETRY_AFTER_SECONDS = 1

UNKNOWN_LABEL = "Unrecognized servable version label: "

# TensorFlow decorates a failed graph run with the nodes involved, e.g.
# "\n\t [[{{node ParseExample/ParseExampleV2}}]]": the model's internals, of no use
# to a client (the gateway's log keeps the full text).
_GRAPH_NODE_LINE = re.compile(r"^\s*\[\[.*\]\]\s*$")
_GRAPH_HINTS = (
    "Errors may have originated from an input operation.",
    "Input Source operations connected to node",
)


def http_status_for(code: grpc.StatusCode) -> int:
    """The HTTP status the gateway answers for a gRPC status from the model server."""
    return _HTTP_STATUS_BY_GRPC_CODE.get(code, 502)


class GatewayError(Exception):
    """Base of every error that is reported to the client."""

    status_code: int = 500
    code: str = "internal"

    def __init__(self, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})

    def __str__(self) -> str:
        return self.message


class InvalidInput(GatewayError):
    """The request body does not fit the TF Serving REST format or the model's signature."""

    status_code = 400
    code = "invalid_argument"


class ModelNotFound(GatewayError):
    """An unknown model, version or label, worded exactly as TF Serving words it.

    The same message is used when the caller has no grant for the model, so a
    caller cannot tell a model they may not use from one that does not exist.
    TF Serving words it differently for the status endpoint (GetModelStatus) than
    for predict/classify/regress/metadata, hence ``for_status``.
    """

    status_code = 404
    code = "not_found"

    def __init__(self, ref: ModelRef, *, for_status: bool = False) -> None:
        self.ref = ref
        super().__init__(_not_found_message(ref, for_status))


def _not_found_message(ref: ModelRef, for_status: bool) -> str:
    if for_status:
        # GetModelStatus ignores labels and reports per version or per model.
        if ref.version is not None:
            return f"Could not find version {ref.version} of model {ref.name}"
        return f"Could not find any versions of model {ref.name}"
    if ref.label is not None:
        return f"{UNKNOWN_LABEL}{ref.label}"
    return f"Servable not found for request: {ref.servable_request()}"


class PayloadTooLarge(GatewayError):
    status_code = 413
    code = "payload_too_large"

    def __init__(self, message: str = "Request body is larger than the allowed maximum") -> None:
        super().__init__(message)


class UpstreamError(GatewayError):
    """A failed gRPC call to the model server, mapped to an HTTP status.

    The message is the model server's own status message (what TF Serving's REST
    API would show), except for UNAVAILABLE: those details are produced by the gRPC
    library and name internal addresses, so the client gets a fixed sentence and
    the details stay in ``self.details`` for the logs.
    """

    def __init__(self, error: grpc.RpcError) -> None:
        code = grpc_code_of(error)
        details = _rpc_details(error)
        self._init_from_status(code, details)

    @classmethod
    def from_status(cls, grpc_code: grpc.StatusCode, details: str) -> UpstreamError:
        error = cls.__new__(cls)
        error._init_from_status(grpc_code, details)
        return error

    def _init_from_status(self, grpc_code: grpc.StatusCode, details: str) -> None:
        self.grpc_code = grpc_code
        self.details = details
        self.status_code = http_status_for(grpc_code)
        self.code = grpc_code.name.lower()
        if grpc_code is grpc.StatusCode.INVALID_ARGUMENT and details.startswith(UNKNOWN_LABEL):
            # TF Serving calls an unknown label a bad argument; to the gateway's callers it
            # is an unknown model like any other (404, same as ModelNotFound).
            self.status_code, self.code = ModelNotFound.status_code, ModelNotFound.code
        headers: dict[str, str] = {}
        if grpc_code is grpc.StatusCode.UNAVAILABLE:
            message = "The model server is unavailable; retry later"
            headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        elif grpc_code is grpc.StatusCode.DEADLINE_EXCEEDED:
            message = "The model server did not answer before the deadline"
        else:
            message = client_message(details) or grpc_code.name
        GatewayError.__init__(self, message, headers=headers)


def with_hint(error: UpstreamError, hint: str) -> UpstreamError:
    """The same error, its message followed by what the client could do instead."""
    hinted = UpstreamError.from_status(error.grpc_code, error.details)
    hinted.message = f"{error.message.rstrip('.')}. {hint}"
    hinted.args = (hinted.message,)
    return hinted


def client_message(details: str) -> str:
    """The model server's message without TensorFlow's graph-node decorations."""
    kept = []
    for line in details.splitlines():
        if line.strip().startswith(_GRAPH_HINTS):
            break
        if not _GRAPH_NODE_LINE.match(line):
            kept.append(line)
    return "\n".join(kept).strip()


def grpc_code_of(error: grpc.RpcError) -> grpc.StatusCode:
    """The status code of a failed call (UNKNOWN if the error does not carry one)."""
    code = getattr(error, "code", None)
    result = code() if callable(code) else None
    return result if isinstance(result, grpc.StatusCode) else grpc.StatusCode.UNKNOWN


def _rpc_details(error: grpc.RpcError) -> str:
    details = getattr(error, "details", None)
    result = details() if callable(details) else None
    return result if isinstance(result, str) else ""
