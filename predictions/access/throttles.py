"""Rate limits per caller, per caller and model, and on the token endpoints per client address.

Counters live in the Django cache, so with REDIS_URL a limit holds across every
worker and replica. A fixed-window counter (one atomic INCR per request) is used
instead of DRF's SimpleRateThrottle, whose read-modify-write of a timestamp list
lets concurrent workers overrun the limit and costs O(rate) per request.
Rates come from settings at each request ("N/s", "N/min", "N/hour", "N/day"; empty:
unlimited).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from predictions.access.callers import caller_of

_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    requests: int
    period_seconds: int


def parse_rate(text: str) -> Rate | None:
    """``"100/min"`` -> Rate(100, 60); empty -> None (unlimited). DRF's rate syntax."""
    if not text:
        return None
    count, _, period = text.partition("/")
    try:
        requests = int(count)
        seconds = _PERIOD_SECONDS[period.strip()[0].lower()]
    except (ValueError, KeyError, IndexError):
        raise ImproperlyConfigured(
            f"Invalid rate {text!r}: expected N/s, N/min, N/hour or N/day"
        ) from None
    return Rate(requests, seconds)


class FixedWindowThrottle(BaseThrottle):
    scope = ""
    rate_setting = ""

    def __init__(self) -> None:
        self._wait: float | None = None

    def cache_key(self, request: Request, view: APIView) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: APIView) -> bool:
        rate = parse_rate(getattr(settings, self.rate_setting))
        if rate is None:
            return True
        ident = self.cache_key(request, view)
        if ident is None:
            return True
        now = time.time()
        window = int(now // rate.period_seconds)
        key = f"throttle:{self.scope}:{ident}:{window}"
        # add() then incr(): both atomic in Redis; the key expires with its window.
        cache.add(key, 0, timeout=rate.period_seconds + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=rate.period_seconds + 1)
            count = 1
        if count is None or count <= rate.requests:  # None: cache unreachable, fail open
            return True
        self._wait = (window + 1) * rate.period_seconds - now
        return False

    def wait(self) -> float | None:
        return None if self._wait is None else math.ceil(self._wait)


class CallerThrottle(FixedWindowThrottle):
    """All model requests of one user or one API key."""

    scope = "caller"
    rate_setting = "THROTTLE_PREDICT_RATE"

    def cache_key(self, request: Request, view: APIView) -> str | None:
        caller = caller_of(request)
        return caller.throttle_key if caller.is_authenticated else None


class CallerModelThrottle(FixedWindowThrottle):
    """One user's or key's requests to one model."""

    scope = "model"
    rate_setting = "THROTTLE_MODEL_RATE"

    def cache_key(self, request: Request, view: APIView) -> str | None:
        caller = caller_of(request)
        name = view.kwargs.get("name")
        if not caller.is_authenticated or not name:
            return None
        return f"{caller.throttle_key}:{name}"


class TokenThrottle(FixedWindowThrottle):
    """Token requests per client address: slows down password guessing."""

    scope = "token"
    rate_setting = "THROTTLE_TOKEN_RATE"

    def cache_key(self, request: Request, view: APIView) -> str | None:
        return self.get_ident(request)
