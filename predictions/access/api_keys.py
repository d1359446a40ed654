"""The API key format: ``<prefix>.<secret>``, stored as a SHA-256 of the whole key.

The prefix is public (shown in the admin, used to find the row); the secret is
256 random bits, so a plain SHA-256 cannot be brute-forced and costs nothing
per request, unlike a password hash.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

PREFIX_BYTES = 6
SECRET_BYTES = 32
SEPARATOR = "."


@dataclass(frozen=True)
class GeneratedKey:
    key: str  # shown to the owner once, never stored
    prefix: str
    key_hash: str


def generate_key() -> GeneratedKey:
    prefix = secrets.token_hex(PREFIX_BYTES)
    key = f"{prefix}{SEPARATOR}{secrets.token_urlsafe(SECRET_BYTES)}"
    return GeneratedKey(key=key, prefix=prefix, key_hash=hash_key(key))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def looks_like_key(key: str) -> bool:
    prefix, separator, secret = key.partition(SEPARATOR)
    return bool(separator and len(prefix) == 2 * PREFIX_BYTES and secret)


@dataclass(frozen=True)
class ApiKeyIdentity:
    """What authenticating with a key needs to know, cached so a request needs no query."""

    key_id: int
    owner_id: int
    owner_username: str
    owner_is_active: bool
    expires_at: datetime | None
    revoked: bool

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now
