"""Typed reads of environment variables for settings.py.

A malformed value stops the process at start-up with the variable's name in the
message, instead of surfacing later as a confusing runtime error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class Environment:
    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = os.environ if values is None else values

    def str(self, name: str, default: str) -> str:
        return self._values.get(name, default)

    def bool(self, name: str, default: bool) -> bool:
        raw = self._values.get(name)
        if raw is None:
            return default
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ImproperlyConfigured(f"{name} must be 1 or 0 (got {raw!r})")

    def int(self, name: str, default: int, *, minimum: int = 0) -> int:
        raw = self._values.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be an integer (got {raw!r})") from None
        if value < minimum:
            raise ImproperlyConfigured(f"{name} must be at least {minimum} (got {value})")
        return value

    def float(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        raw = self._values.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a number (got {raw!r})") from None
        if value < minimum:
            raise ImproperlyConfigured(f"{name} must be at least {minimum} (got {value})")
        return value

    def list(self, name: str, default: str) -> list[str]:
        """A comma-separated list; blanks are dropped."""
        raw = self._values.get(name, default)
        return [item.strip() for item in raw.split(",") if item.strip()]

    def is_set(self, name: str) -> bool:
        return bool(self._values.get(name))
