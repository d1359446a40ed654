"""Content-Security-Policy for the gateway's pages (browsable API, API docs, admin,
operations page, welcome page).

Every script on them is a file served by the gateway itself (the Swagger UI from the
sidecar package, its start-up script from the split view), so scripts are limited to
'self' and no inline script runs: an injected ``<script>`` cannot execute. Inline
styles stay allowed (the Swagger UI and the admin set them from their own scripts).
Nothing may frame the pages, and forms post only back to the gateway. JSON answers
carry no policy: a browser does not run them.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response.setdefault("Content-Security-Policy", POLICY)
        return response
