"""Authentication for machine clients: JWTs and API keys.

``Authorization: Bearer <JWT>`` is simplejwt's stateless check (no query), with the
tokens whose signature a worker has verified remembered until they expire
(``VerifiedJWTAuthentication``). ``Authorization: Api-Key <key>`` or ``X-API-Key:
<key>``: a key's identity is cached, so after the first request a key costs no
database query either; revoking or changing a key drops its cache entry at once.
Session authentication comes from DRF; see REST_FRAMEWORK in settings.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow

from predictions.access import selectors
from predictions.access.api_keys import ApiKeyIdentity, hash_key, looks_like_key

KEYWORD = "Api-Key"
HEADER = "HTTP_X_API_KEY"
_CACHE_PREFIX = "apikey:"


# Verified tokens a worker remembers: a client sends the same token for minutes, and
# checking its signature and claims again is a tenth of a predict's CPU in the worker.
VERIFIED_TOKENS_KEPT = 1024


class VerifiedJWTAuthentication(JWTStatelessUserAuthentication):
    """simplejwt's stateless JWT check, remembering each token it has verified.

    The same token string, seen again, is not decoded or its signature checked again
    (the bytes are the same, so is the outcome), but its expiry is checked on every
    request with simplejwt's own rule (leeway included). At most VERIFIED_TOKENS_KEPT
    tokens are kept per process; when full, the memory starts afresh. Nothing else
    changes: a token simplejwt refuses is never kept, and the user is built from the
    claims as before.
    """

    _verified: dict[bytes, Token] = {}
    _lock = threading.Lock()

    def get_validated_token(self, raw_token: bytes) -> Token:
        token = self._verified.get(raw_token)
        if token is not None:
            try:
                token.check_exp(current_time=aware_utcnow())
                return token
            except TokenError:
                with self._lock:
                    self._verified.pop(raw_token, None)
                # simplejwt checks it again below and refuses it in its own words
        token = super().get_validated_token(raw_token)
        with self._lock:
            if len(self._verified) >= VERIFIED_TOKENS_KEPT:
                self._verified.clear()
            self._verified[raw_token] = token
        return token


class ApiKeyUser:
    """The key's owner as ``request.user``, built from the cached identity (no query)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, identity: ApiKeyIdentity) -> None:
        self.id = self.pk = identity.owner_id
        self.username = identity.owner_username

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.username


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiKeyUser, ApiKeyIdentity] | None:
        key = _key_from(request)
        if key is None:
            return None
        identity = identity_for_key(key)
        if identity is None or not identity.owner_is_active:
            raise exceptions.AuthenticationFailed("Invalid API key", code="invalid_api_key")
        if identity.revoked:
            raise exceptions.AuthenticationFailed(
                "API key has been revoked", code="api_key_revoked"
            )
        if identity.is_expired(timezone.now()):
            raise exceptions.AuthenticationFailed("API key has expired", code="api_key_expired")
        return ApiKeyUser(identity), identity

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


def _key_from(request: Request) -> str | None:
    header = get_authorization_header(request).split()
    if header and header[0].decode("latin-1").lower() == KEYWORD.lower():
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Api-Key header: expected 'Api-Key <key>'", code="invalid_api_key"
            )
        return header[1].decode("latin-1")
    return request.META.get(HEADER) or None


def identity_for_key(key: str) -> ApiKeyIdentity | None:
    if not looks_like_key(key):
        return None
    key_hash = hash_key(key)
    cache_key = _CACHE_PREFIX + key_hash
    identity = cache.get(cache_key)
    if identity is None:
        identity = selectors.api_key_identity(key)
        if identity is None:
            return None  # unknown keys are not cached: a new key works at once
        cache.set(cache_key, identity, settings.AUTH_CACHE_SECONDS)
    return identity


def forget_api_keys(key_hashes: Iterable[str]) -> None:
    """Drop cached identities (after a key is revoked or changed, or its owner is)."""
    cache.delete_many([_CACHE_PREFIX + key_hash for key_hash in key_hashes])
