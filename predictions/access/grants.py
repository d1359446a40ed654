"""Per-model grants: which models a caller may use, and the check every model route makes.

A caller without a grant is told the model does not exist (the very 404 of an
unknown model). Grants (user or group -> model name or "*") are looked up once per
user and kept in the Django cache, so a JWT-authenticated predict call does no
database query; signals (see signals.py) drop a user's entry whenever their
grants, groups or superuser/active flags change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Q

from predictions.access.callers import Caller
from predictions.access.models import ALL_MODELS, ModelGrant
from tfserving.errors import ModelNotFound
from tfserving.models import ModelRef

_CACHE_PREFIX = "model-access:"


@dataclass(frozen=True)
class ModelAccess:
    """Which models a caller may use: a small value, cached per user."""

    every_model: bool = False
    model_names: frozenset[str] = frozenset()

    def allows(self, model_name: str) -> bool:
        return self.every_model or model_name in self.model_names


NO_ACCESS = ModelAccess()
FULL_ACCESS = ModelAccess(every_model=True)


def model_access(caller: Caller) -> ModelAccess:
    if caller.user_id is None:
        return NO_ACCESS
    cache_key = f"{_CACHE_PREFIX}{caller.user_id}"
    access = cache.get(cache_key)
    if access is None:
        access = model_access_for_user(caller.user_id)
        cache.set(cache_key, access, settings.AUTH_CACHE_SECONDS)
    return access


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


def authorize(caller: Caller, ref: ModelRef, *, for_status: bool = False) -> None:
    """Raise the very 404 an unknown model gets unless ``caller`` may use ``ref.name``."""
    if not model_access(caller).allows(ref.name):
        raise ModelNotFound(ref, for_status=for_status)


def forget_model_access(user_ids: Iterable[int]) -> None:
    cache.delete_many([f"{_CACHE_PREFIX}{user_id}" for user_id in set(user_ids)])
