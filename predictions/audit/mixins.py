"""The view half of the audit trail: who called is known only once DRF has authenticated."""

from __future__ import annotations

from rest_framework.request import Request

from predictions.access.callers import caller_of
from predictions.audit.entry import entry_for


class AuditedCallerMixin:
    """Puts the authenticated caller on the request's audit entry (failed auth: anonymous)."""

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)  # type: ignore[misc]
        entry = entry_for(request)
        if entry is not None:
            entry.caller = caller_of(request)
