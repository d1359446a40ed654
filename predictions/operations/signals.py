"""Signal receivers: failed session logins are counted in the metrics."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from predictions.api.middleware import is_api_request
from predictions.operations import metrics


@receiver(user_login_failed)
def login_failed(sender: object, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    """A wrong password on the admin or browsable API login form.

    The token endpoint's failures are API requests, counted with the others.
    """
    if request is None or not is_api_request(request.path):
        metrics.login_failed()
