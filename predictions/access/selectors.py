"""Reads: the models to list for a caller, and an API key's identity."""

from __future__ import annotations

import hmac

from predictions.access.api_keys import SEPARATOR, ApiKeyIdentity, hash_key
from predictions.access.grants import ModelAccess
from predictions.access.models import ALL_MODELS, ApiKey, ModelGrant
from predictions.inference.catalogue import catalogue_model_names


def usable_model_names(access: ModelAccess) -> list[str]:
    """Model names to list for a caller: the catalogue's and any granted by name, allowed ones."""
    names = set(catalogue_model_names()) | set(access.model_names)
    if access.every_model:
        names |= set(
            ModelGrant.objects.exclude(model_name=ALL_MODELS).values_list("model_name", flat=True)
        )
    return sorted(name for name in names if access.allows(name))


def api_key_identity(key: str) -> ApiKeyIdentity | None:
    prefix = key.partition(SEPARATOR)[0]
    api_key = ApiKey.objects.select_related("owner").filter(prefix=prefix).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, hash_key(key)):
        return None
    return ApiKeyIdentity(
        key_id=api_key.pk,
        owner_id=api_key.owner_id,
        owner_username=api_key.owner.get_username(),
        owner_is_active=api_key.owner.is_active,
        expires_at=api_key.expires_at,
        revoked=api_key.is_revoked,
    )
