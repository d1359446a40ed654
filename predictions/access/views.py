"""The token endpoints (simplejwt's views): throttled per address, guarded against password
guessing (logins.py), audited, and never cached."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt import views as jwt_views

from predictions.access import logins
from predictions.access.throttles import TokenThrottle
from predictions.api import openapi
from predictions.api.parsers import BoundedFormParser, BoundedMultiPartParser, TFServingJSONParser
from predictions.audit.entry import entry_for
from predictions.audit.mixins import AuditedCallerMixin

_TOKEN_PARSERS = [TFServingJSONParser, BoundedFormParser, BoundedMultiPartParser]


class _TokenViewMixin(AuditedCallerMixin):
    throttle_classes = [TokenThrottle]
    parser_classes = _TOKEN_PARSERS
    audit_method = ""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        entry = entry_for(request)
        if entry is not None:
            entry.note_method(self.audit_method)
        super().initial(request, *args, **kwargs)  # type: ignore[misc]

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        # Tokens are credentials: no cache between here and the client may keep one
        # (RFC 6749, section 5.1).
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        return response


@openapi.OBTAIN_TOKEN
class TokenObtainView(_TokenViewMixin, jwt_views.TokenObtainPairView):
    """POST username and password: an access token and a refresh token."""

    audit_method = "token"

    def handle_exception(self, exc: Exception) -> Response:
        # Axes flags the lockout on the request it was given (this DRF request), so its
        # middleware never sees it here; the answer is the API's own JSON 429.
        if getattr(self.request, "axes_locked_out", False):
            exc = exceptions.Throttled(wait=logins.lockout_seconds(), detail=logins.LOCKOUT_MESSAGE)
        return super().handle_exception(exc)


@openapi.REFRESH_TOKEN
class TokenRefreshView(_TokenViewMixin, jwt_views.TokenRefreshView):
    """POST a refresh token: a new access token and a new refresh token (the old one is
    blacklisted)."""

    audit_method = "token_refresh"


@openapi.VERIFY_TOKEN
class TokenVerifyView(_TokenViewMixin, jwt_views.TokenVerifyView):
    """POST a token: 200 if it is valid."""

    audit_method = "token_verify"
