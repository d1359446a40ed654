"""Password guessing: django-axes counts failed logins per username and per client address
on every login path (admin, browsable API, the token view) and locks further attempts out.

Axes keeps its attempts in the database (shared by every worker and replica) and
learns the client address from ``client_address``, which trusts X-Forwarded-For
exactly as far as the token throttle does (NUM_PROXIES): behind no configured proxy a
forged header cannot make each guess look like a new client.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from rest_framework.throttling import BaseThrottle

LOCKED_OUT_STATUS = 429


class LoginGuardBackend(AxesStandaloneBackend):
    """Axes' backend, first in AUTHENTICATION_BACKENDS: refuses a locked-out login before
    the password is checked. A login without a request (a management command, Django's
    test client ``login()``) comes from no address and is not counted; every HTTP login
    path passes its request."""

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


def client_address(request: HttpRequest) -> str:
    """AXES_CLIENT_IP_CALLABLE: the address the throttles see (REMOTE_ADDR, or the
    NUM_PROXIES-th X-Forwarded-For entry from the right)."""
    return BaseThrottle().get_ident(request)


def lockout_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


LOCKOUT_MESSAGE = "Too many failed logins for this username or from this address."


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE for the login pages (admin, browsable API). The token view
    answers its own JSON lockout (see views.TokenObtainView)."""
    response = HttpResponse(
        format_html(
            "<!doctype html><title>Login locked</title><h1>Login locked</h1>"
            "<p>{} Try again in {} seconds.</p>",
            LOCKOUT_MESSAGE,
            lockout_seconds(),
        ),
        status=LOCKED_OUT_STATUS,
    )
    response["Retry-After"] = str(lockout_seconds())
    return response
