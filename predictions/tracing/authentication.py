"""A span around DRF's authentication of a request (JWT, API key or session)."""

from __future__ import annotations

from rest_framework.request import Request

from tfserving import tracing


class TracedAuthenticationMixin:
    """For APIViews: authentication shows as its own span of the request's trace."""

    def perform_authentication(self, request: Request) -> None:
        with tracing.span("authenticate"):
            super().perform_authentication(request)  # type: ignore[misc]
