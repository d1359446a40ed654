"""Typed reads of environment variables: the only place the project reads its settings from.

settings.py, gunicorn.conf.py and the management commands read variables through
an ``Environment``. A malformed value stops the process at start-up with the
variable's name in the message, instead of surfacing later as a confusing runtime
error. Defaults that two readers share (the mode, the log format) are defined
once here.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})

_Number = TypeVar("_Number", int, float)

MODES = ("local", "production")
LOG_FORMATS = ("text", "json")

DEVELOPMENT_SECRET_KEY = "django-insecure-local-development-key-never-use-in-production"
# Django's own deployment check (security.W009) calls a key weak below these; here a weak
# key stops a production start, because it also signs the JWTs: a short key can be
# brute-forced offline from one token, and then any token can be forged.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5


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

    def int(self, name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
        raw = self._values.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be an integer (got {raw!r})") from None
        return self._bounded(name, value, minimum, maximum)

    def float(
        self, name: str, default: float, *, minimum: float = 0.0, maximum: float | None = None
    ) -> float:
        raw = self._values.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a number (got {raw!r})") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ImproperlyConfigured(f"{name} must be a finite number (got {raw!r})")
        return self._bounded(name, value, minimum, maximum)

    def list(self, name: str, default: str) -> list[str]:
        """A comma-separated list; blanks are dropped."""
        raw = self._values.get(name, default)
        return [item.strip() for item in raw.split(",") if item.strip()]

    def choice(self, name: str, default: str, choices: Collection[str]) -> str:
        value = self._values.get(name, default)
        if value not in choices:
            raise ImproperlyConfigured(
                f"{name} must be one of {', '.join(choices)} (got {value!r})"
            )
        return value

    def url(self, name: str, default: str, *, schemes: Collection[str]) -> str:
        """A URL with one of ``schemes``; empty stays empty (the feature is off)."""
        value = self._values.get(name, default).strip()
        if not value:
            return ""
        parts = urlsplit(value)
        if parts.scheme not in schemes:
            raise ImproperlyConfigured(
                f"{name} must be a URL starting with {' or '.join(f'{s}://' for s in schemes)} "
                f"(got {value!r})"
            )
        if parts.scheme not in ("sqlite", "unix") and not parts.hostname:
            raise ImproperlyConfigured(f"{name} must name a host (got {value!r})")
        return value

    # --- values more than one reader needs -------------------------------------------

    @property
    def mode(self) -> str:
        """DJANGO_ENV: ``local`` (the embedded default) or ``production``."""
        return self.choice("DJANGO_ENV", "local", MODES)

    @property
    def production(self) -> bool:
        return self.mode == "production"

    @property
    def secret_key(self) -> str:
        """DJANGO_SECRET_KEY: a development key locally; in production a strong key or no start."""
        value = self.str("DJANGO_SECRET_KEY", "" if self.production else DEVELOPMENT_SECRET_KEY)
        if not self.production:
            return value
        if value in ("", DEVELOPMENT_SECRET_KEY):
            raise ImproperlyConfigured(
                "DJANGO_ENV=production needs DJANGO_SECRET_KEY set to a real secret"
            )
        if (
            len(value) < SECRET_KEY_MIN_LENGTH
            or len(set(value)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
            or value.startswith("django-insecure-")
        ):
            raise ImproperlyConfigured(
                f"DJANGO_SECRET_KEY is too weak for production: it signs sessions and JWTs, so "
                f"it needs at least {SECRET_KEY_MIN_LENGTH} random characters "
                f"(got {len(value)}); generate one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
            )
        return value

    @property
    def log_format(self) -> str:
        """LOG_FORMAT: readable ``text`` locally, ``json`` lines in production."""
        return self.choice("LOG_FORMAT", "json" if self.production else "text", LOG_FORMATS)

    @property
    def gateway_bind(self) -> str:
        """GATEWAY_BIND: the host:port gunicorn listens on."""
        return self.str("GATEWAY_BIND", "127.0.0.1:8000")

    @property
    def gunicorn_threads(self) -> int:
        """GUNICORN_THREADS: request threads per worker (the model server bounds derive from it)."""
        return self.int("GUNICORN_THREADS", 8, minimum=1)

    @property
    def log_level(self) -> str:
        return self.str("LOG_LEVEL", "INFO").upper()

    @staticmethod
    def _bounded(name: str, value: _Number, minimum: _Number, maximum: _Number | None) -> _Number:
        if value < minimum:
            raise ImproperlyConfigured(f"{name} must be at least {minimum} (got {value})")
        if maximum is not None and value > maximum:
            raise ImproperlyConfigured(f"{name} must be at most {maximum} (got {value})")
        return value
