"""What access control stores: who may use which model, and API keys."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils import timezone

ALL_MODELS = "*"


def holder_constraints(kind: str) -> list[models.BaseConstraint]:
    """The constraints of a grant table (a ``user`` or a ``group`` per ``model_name``):
    exactly one holder, and one grant per holder and model. ``kind`` prefixes the
    constraint names ("" for ModelGrant, "deploy_" for DeployGrant)."""
    return [
        models.CheckConstraint(
            condition=Q(user__isnull=False, group__isnull=True)
            | Q(user__isnull=True, group__isnull=False),
            name=f"{kind}grant_has_user_or_group",
            violation_error_message="A grant is for either a user or a group.",
        ),
        models.UniqueConstraint(
            fields=("user", "model_name"),
            condition=Q(user__isnull=False),
            name=f"unique_user_{kind}grant",
        ),
        models.UniqueConstraint(
            fields=("group", "model_name"),
            condition=Q(group__isnull=False),
            name=f"unique_group_{kind}grant",
        ),
    ]


class ModelGrant(models.Model):
    """A user or a group may use a model (by name, or every model with "*")."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="model_grants",
    )
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="model_grants"
    )
    model_name = models.CharField(
        max_length=200, help_text='A model name as served, or "*" for every model.'
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("model_name", "id")
        constraints = holder_constraints("")

    def __str__(self) -> str:
        holder = f"user {self.user}" if self.user_id else f"group {self.group}"
        return f"{holder} -> {self.model_name}"


class ApiKey(models.Model):
    """A machine client's key. Only a SHA-256 of the key is stored; the key is shown once.

    Keys are 256-bit random, so a fast hash is enough (no password stretching
    needed); the public ``prefix`` is indexed so a lookup is one row.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, help_text="What the key is for.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())


class TokenFamilyMember(models.Model):
    """Which login a refresh token descends from: every rotation stays in its login's family,
    so reusing a rotated token (a sign it was stolen) can revoke the whole family at once."""

    token = models.OneToOneField(
        "token_blacklist.OutstandingToken",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="family_member",
    )
    family = models.CharField(max_length=64, db_index=True)

    def __str__(self) -> str:
        return f"{self.token_id} in {self.family}"
