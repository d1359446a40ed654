"""Per-model authorization: a caller without a grant is told the model does not exist.

Grants (user or group -> model name or "*") are looked up once per user and kept
in the Django cache, so a JWT-authenticated predict call does no database query;
signals (see signals.py) drop a user's entry whenever their grants, groups or
superuser/active flags change.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache

from predictions import selectors
from predictions.access import NO_ACCESS, ModelAccess
from predictions.callers import Caller
from predictions.tfserving.errors import ModelNotFound
from predictions.tfserving.models import ModelRef

_CACHE_PREFIX = "model-access:"


def model_access(caller: Caller) -> ModelAccess:
    if caller.user_id is None:
        return NO_ACCESS
    cache_key = f"{_CACHE_PREFIX}{caller.user_id}"
    access = cache.get(cache_key)
    if access is None:
        access = selectors.model_access_for_user(caller.user_id)
        cache.set(cache_key, access, settings.AUTH_CACHE_SECONDS)
    return access


def authorize(caller: Caller, ref: ModelRef, *, for_status: bool = False) -> None:
    """Raise the very 404 an unknown model gets unless ``caller`` may use ``ref.name``."""
    if not model_access(caller).allows(ref.name):
        raise ModelNotFound(ref, for_status=for_status)


def forget_model_access(user_ids: Iterable[int]) -> None:
    cache.delete_many([f"{_CACHE_PREFIX}{user_id}" for user_id in set(user_ids)])
