"""Reads: what a caller may use, API key identities, the model catalogue."""

from __future__ import annotations

import hmac

from django.contrib.auth import get_user_model
from django.db.models import Q

from predictions.access import FULL_ACCESS, NO_ACCESS, ModelAccess
from predictions.api_keys import SEPARATOR, ApiKeyIdentity, hash_key
from predictions.catalogue import catalogue_model_names
from predictions.models import ALL_MODELS, ApiKey, ModelGrant


def model_access_for_user(user_id: int) -> ModelAccess:
    """The models a user may use: superusers all; others through their and their groups' grants.

    Inactive or deleted users get none, which also shuts out their unexpired JWTs.
    """
    user = get_user_model().objects.filter(pk=user_id).values("is_active", "is_superuser").first()
    if user is None or not user["is_active"]:
        return NO_ACCESS
    if user["is_superuser"]:
        return FULL_ACCESS
    names = frozenset(
        ModelGrant.objects.filter(Q(user_id=user_id) | Q(group__user__id=user_id))
        .values_list("model_name", flat=True)
        .distinct()
    )
    if ALL_MODELS in names:
        return FULL_ACCESS
    return ModelAccess(model_names=names)


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
