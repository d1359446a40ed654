"""What travels with a request into the services: who calls, its id, its audit entry."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.request import Request

from predictions.access.callers import Caller, caller_of
from predictions.audit.entry import NULL_AUDIT, AuditEntry, NullAuditEntry, entry_for


@dataclass(frozen=True)
class RequestContext:
    """The caller, the request id (for the model server's metadata) and the audit entry.

    ``audit`` is NULL_AUDIT where the request has no entry (outside /v1/, tests).
    """

    caller: Caller
    request_id: str = ""
    audit: AuditEntry | NullAuditEntry = NULL_AUDIT

    @classmethod
    def of(cls, request: Request) -> RequestContext:
        """The context of an authenticated DRF request (no database query)."""
        return cls(
            caller=caller_of(request),
            request_id=getattr(request, "request_id", ""),
            audit=entry_for(request) or NULL_AUDIT,
        )
