"""Signal receivers: keep the cached grants and API key identities in step with the
database.

Every change that can alter what a user may use (their grants, their groups'
grants, group membership, superuser or active flags) or whether a key works
(revocation, expiry, owner) drops the affected cache entries at once.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import receiver

from predictions.access.authentication import forget_api_keys
from predictions.access.grants import forget_model_access
from predictions.access.models import ApiKey, ModelGrant

User = get_user_model()


def _group_member_ids(group_id: int) -> list[int]:
    return list(User.objects.filter(groups__id=group_id).values_list("id", flat=True))


@receiver([post_save, post_delete], sender=ModelGrant)
def grant_changed(sender: type, instance: ModelGrant, **kwargs: Any) -> None:
    if instance.user_id is not None:
        forget_model_access([instance.user_id])
    if instance.group_id is not None:
        forget_model_access(_group_member_ids(instance.group_id))


@receiver(m2m_changed, sender=User.groups.through)
def group_membership_changed(
    sender: type, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    if not reverse:  # user.groups.add(...): one user changed
        if action in ("post_add", "post_remove", "post_clear"):
            forget_model_access([instance.pk])
        return
    # group.user_set.add(...): pk_set holds user ids, except for clear.
    if action == "pre_clear":
        instance._members_before_clear = _group_member_ids(instance.pk)
    elif action == "post_clear":
        forget_model_access(getattr(instance, "_members_before_clear", []))
    elif action in ("post_add", "post_remove"):
        forget_model_access(pk_set or ())


@receiver(pre_delete, sender=Group)
def group_deleted(sender: type, instance: Group, **kwargs: Any) -> None:
    forget_model_access(_group_member_ids(instance.pk))


@receiver([post_save, post_delete], sender=User)
def user_changed(sender: type, instance: Any, **kwargs: Any) -> None:
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # a login changes nothing we cache
    forget_model_access([instance.pk])
    forget_api_keys(ApiKey.objects.filter(owner_id=instance.pk).values_list("key_hash", flat=True))


@receiver([post_save, post_delete], sender=ApiKey)
def api_key_changed(sender: type, instance: ApiKey, **kwargs: Any) -> None:
    forget_api_keys([instance.key_hash])
