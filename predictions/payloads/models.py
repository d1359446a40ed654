"""What payload logging stores: the policy per model, its change history, the logged exchanges."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from predictions.audit.models import client_request_id_field
from predictions.request_id import MAX_REQUEST_ID_LENGTH

DIRECTIONS = ("request", "response")
ERRORS_ALWAYS, ERRORS_SAMPLED, ERRORS_NEVER = "always", "sampled", "never"
ERROR_CHOICES = (ERRORS_ALWAYS, ERRORS_SAMPLED, ERRORS_NEVER)
SINKS = ("database", "file", "cloudevents")
DEFAULT_MAX_BYTES = 65_536
MIN_MAX_BYTES = 1_024  # room for the truncation marker
MAX_MAX_BYTES = 8 * 1024 * 1024


def _both_directions() -> list[str]:
    return list(DIRECTIONS)


def _database_only() -> list[str]:
    return ["database"]


class PayloadLoggingPolicy(models.Model):
    """Which exchanges of a model (or of one of its versions or labels) are logged, and how.

    Without a policy a model's payloads are not logged. The most specific policy applies:
    the answering version's, else the label's the request named, else the model's.
    """

    model_name = models.CharField(max_length=200)
    model_version = models.BigIntegerField(
        null=True, blank=True, help_text="Empty: every version (or the label below)."
    )
    version_label = models.CharField(max_length=100, blank=True)
    sample_rate = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of successful exchanges logged, 0 to 1 (by request id).",
    )
    directions = models.JSONField(default=_both_directions, help_text='"request", "response"')
    errors = models.CharField(
        max_length=10,
        choices=[(choice, choice) for choice in ERROR_CHOICES],
        default=ERRORS_ALWAYS,
        help_text="always: log every failed exchange; sampled: like others; never.",
    )
    max_bytes = models.PositiveIntegerField(
        default=DEFAULT_MAX_BYTES,
        validators=[MinValueValidator(MIN_MAX_BYTES), MaxValueValidator(MAX_MAX_BYTES)],
        help_text="Largest payload kept; larger ones are cut and marked truncated.",
    )
    redact = models.JSONField(
        default=list,
        blank=True,
        help_text="Inputs and outputs replaced by dtype, shape and a keyed hash.",
    )
    sinks = models.JSONField(default=_database_only, help_text='"database", "file", "cloudevents"')
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ("model_name", "model_version", "version_label")
        verbose_name = "payload logging policy"
        verbose_name_plural = "payload logging policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(model_version__isnull=True) | Q(version_label=""),
                name="payload_policy_version_or_label",
                violation_error_message="A policy is for a version or a label, not both.",
            ),
            models.UniqueConstraint(
                fields=("model_name", "version_label"),
                condition=Q(model_version__isnull=True),
                name="unique_payload_policy_model_or_label",
            ),
            models.UniqueConstraint(
                fields=("model_name", "model_version"),
                condition=Q(model_version__isnull=False),
                name="unique_payload_policy_version",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_name}{self.scope_suffix}"

    @property
    def scope_suffix(self) -> str:
        if self.model_version is not None:
            return f"/versions/{self.model_version}"
        if self.version_label:
            return f"/labels/{self.version_label}"
        return ""


class PayloadPolicyChange(models.Model):
    """One change of a policy: who, when, through what, and the policy before and after."""

    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    changed_by = models.CharField(max_length=150, blank=True)
    source = models.CharField(max_length=10, help_text="api or admin")
    request_id = models.CharField(max_length=MAX_REQUEST_ID_LENGTH, blank=True)
    model_name = models.CharField(max_length=200, db_index=True)
    model_version = models.BigIntegerField(null=True, blank=True)
    version_label = models.CharField(max_length=100, blank=True)
    before = models.JSONField(null=True, blank=True, help_text="Empty: there was no policy.")
    after = models.JSONField(null=True, blank=True, help_text="Empty: the policy was removed.")

    class Meta:
        ordering = ("-changed_at", "-id")

    def __str__(self) -> str:
        return f"{self.model_name} by {self.changed_by or '?'} at {self.changed_at:%Y-%m-%d %H:%M}"


class PayloadLog(models.Model):
    """One logged exchange: what the model was asked and what it answered.

    ``request_id`` links it to its audit record (written separately, off the request path,
    so there is no foreign key). Payloads are the REST bodies as JSON with redacted fields
    replaced; one over the policy's max_bytes is a marker object holding its first bytes.
    """

    created_at = models.DateTimeField(db_index=True)
    request_id = models.CharField(max_length=MAX_REQUEST_ID_LENGTH, db_index=True)
    client_request_id = client_request_id_field()
    trace_id = models.CharField(max_length=32, blank=True)
    model_name = models.CharField(max_length=200)
    model_version = models.BigIntegerField(null=True, blank=True)
    version_label = models.CharField(max_length=100, blank=True)
    signature_name = models.CharField(max_length=200, blank=True)
    method = models.CharField(max_length=20)
    caller = models.CharField(max_length=150, blank=True)
    http_status = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=50, blank=True)
    reason = models.CharField(max_length=10, help_text="sampled, or error (errors: always)")
    request = models.JSONField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    request_bytes = models.PositiveBigIntegerField(default=0, help_text="Before truncation.")
    response_bytes = models.PositiveBigIntegerField(default=0, help_text="Before truncation.")
    request_truncated = models.BooleanField(default=False)
    response_truncated = models.BooleanField(default=False)
    redacted = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=("model_name", "created_at"))]

    def __str__(self) -> str:
        return f"{self.model_name} {self.request_id} -> {self.http_status}"
