"""What the gateway stores: who may use which model, API keys, and the audit log."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils import timezone

ALL_MODELS = "*"


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
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True)
                | Q(user__isnull=True, group__isnull=False),
                name="grant_has_user_or_group",
                violation_error_message="A grant is for either a user or a group.",
            ),
            models.UniqueConstraint(
                fields=("user", "model_name"),
                condition=Q(user__isnull=False),
                name="unique_user_grant",
            ),
            models.UniqueConstraint(
                fields=("group", "model_name"),
                condition=Q(group__isnull=False),
                name="unique_group_grant",
            ),
        ]

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


class AuditRecord(models.Model):
    """One API request, successful or not. No payloads are stored.

    The caller columns keep their ids without a foreign-key constraint: records are
    written in batches off the request path and must outlive deleted users and keys.
    """

    created_at = models.DateTimeField(db_index=True)
    request_id = models.CharField(max_length=128, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    api_key = models.ForeignKey(
        ApiKey,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    caller = models.CharField(max_length=150, blank=True, help_text="Username at request time.")
    method = models.CharField(max_length=20, help_text="predict, classify, status, token, …")
    http_method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    model_name = models.CharField(max_length=200, blank=True, db_index=True)
    model_version = models.BigIntegerField(null=True, blank=True)
    version_label = models.CharField(max_length=100, blank=True)
    signature_name = models.CharField(max_length=200, blank=True)
    http_status = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=50, blank=True)
    grpc_code = models.CharField(max_length=30, blank=True, help_text="Empty: no gRPC call.")
    latency_ms = models.FloatField()
    request_bytes = models.PositiveBigIntegerField(default=0)
    response_bytes = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=("model_name", "created_at"))]

    def __str__(self) -> str:
        return f"{self.http_method} {self.path} -> {self.http_status}"
