"""API keys: issue one (its clear text exists only in the return value) and revoke one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from predictions.access.api_keys import generate_key
from predictions.access.models import ApiKey


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    key: str  # the only time the key exists in clear text


def issue_api_key(
    owner: AbstractBaseUser, name: str, *, expires_at: datetime | None = None
) -> IssuedApiKey:
    generated = generate_key()
    api_key = ApiKey.objects.create(
        owner=owner,
        name=name,
        prefix=generated.prefix,
        key_hash=generated.key_hash,
        expires_at=expires_at,
    )
    return IssuedApiKey(api_key=api_key, key=generated.key)


def revoke_api_key(api_key: ApiKey) -> None:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])  # post_save drops the cached identity
