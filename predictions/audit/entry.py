"""The audit entry a request fills in while it is handled, and its null object.

AuditMiddleware creates the entry; views and services note the model, signature,
version and gRPC outcome on it; the middleware completes it with the status, size
and latency and hands it to the writer (writer.py). Outside /v1/ a request has no
entry, and code that takes one gets NULL_AUDIT, which notes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from predictions.access.callers import ANONYMOUS, Caller
from predictions.audit.rows import Row, bounded_row
from tfserving.models import ModelRef


@dataclass
class AuditEntry:
    """An audit record being filled in while a request is handled.

    The middleware creates it; views and services add the model, signature and
    gRPC outcome; the middleware completes it with the status, size and latency.
    """

    created_at: datetime
    started: float  # time.perf_counter() at the start of the request
    request_id: str
    http_method: str
    path: str
    request_bytes: int
    client_request_id: str = ""  # the client's own X-Request-ID, if usable ("" if none)
    trace_id: str = ""  # the request's OpenTelemetry trace ("" while tracing is off)
    caller: Caller = ANONYMOUS
    method: str = ""
    model_name: str = ""
    model_version: int | None = None
    version_label: str = ""
    signature_name: str = ""
    grpc_code: str = ""
    error_code: str = ""
    upstream_seconds: float = 0.0  # time spent in model server calls (for metrics)
    traffic_route: str = ""  # how the traffic policy chose the version ("": as named)
    shadow_differs: bool | None = None  # a shadow copy's answer differed from the client's

    def note_model(self, method: str, ref: ModelRef) -> None:
        self.method = method
        self.model_name = ref.name
        self.model_version = ref.version
        self.version_label = ref.label or ""

    def note_method(self, method: str) -> None:
        self.method = method

    def note_signature(self, signature_name: str) -> None:
        self.signature_name = signature_name

    def note_version(self, version: int) -> None:
        self.model_version = version

    def note_route(self, ref: ModelRef, reason: str) -> None:
        """The traffic policy sent this request, which named no version, to ``ref``."""
        self.model_version = ref.version
        self.version_label = ref.label or ""
        self.traffic_route = reason

    def shadow_entry(self, ref: ModelRef) -> AuditEntry:
        """The entry of a shadow copy of this request to ``ref`` (method "shadow")."""
        return AuditEntry(
            created_at=timezone.now(),
            started=time.perf_counter(),
            request_id=self.request_id,
            client_request_id=self.client_request_id,
            http_method=self.http_method,
            path=self.path,
            request_bytes=self.request_bytes,
            caller=self.caller,
            method="shadow",
            model_name=ref.name,
            model_version=ref.version,
            version_label=ref.label or "",
            signature_name=self.signature_name,
            traffic_route="shadow",
        )

    def note_shadow_outcome(self, differs: bool | None) -> None:
        self.shadow_differs = differs

    def note_grpc_code(self, code: str) -> None:
        self.grpc_code = code

    def add_upstream_seconds(self, seconds: float) -> None:
        self.upstream_seconds += seconds

    def to_row(self, http_status: int, response_bytes: int) -> Row:
        """The record to write, every value made to fit its column (rows.py)."""
        return bounded_row(
            {
                "created_at": self.created_at,
                "request_id": self.request_id,
                "client_request_id": self.client_request_id,
                "trace_id": self.trace_id,
                "user_id": self.caller.user_id,
                "api_key_id": self.caller.api_key_id,
                "caller": self.caller.username,
                "method": self.method,
                "http_method": self.http_method,
                "path": self.path,
                "model_name": self.model_name,
                "model_version": self.model_version,
                "version_label": self.version_label,
                "signature_name": self.signature_name,
                "http_status": http_status,
                "error_code": self.error_code,
                "grpc_code": self.grpc_code,
                "latency_ms": (time.perf_counter() - self.started) * 1000.0,
                "request_bytes": self.request_bytes,
                "response_bytes": response_bytes,
                "traffic_route": self.traffic_route,
                "shadow_differs": self.shadow_differs,
            }
        )


class NullAuditEntry:
    """Takes the same notes as an AuditEntry and keeps none (no request, or a test)."""

    def note_model(self, method: str, ref: ModelRef) -> None:
        pass

    def note_method(self, method: str) -> None:
        pass

    def note_signature(self, signature_name: str) -> None:
        pass

    def note_version(self, version: int) -> None:
        pass

    def note_route(self, ref: ModelRef, reason: str) -> None:
        pass

    def shadow_entry(self, ref: ModelRef) -> None:
        return None  # no record for the copy either

    def note_grpc_code(self, code: str) -> None:
        pass

    def add_upstream_seconds(self, seconds: float) -> None:
        pass


NULL_AUDIT = NullAuditEntry()


def entry_for(request: object) -> AuditEntry | None:
    """The audit entry AuditMiddleware attached to ``request`` (None outside /v1/)."""
    return getattr(request, "audit", None)
