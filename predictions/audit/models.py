"""The audit log's table: one row per API request."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from predictions.access.models import ApiKey
from predictions.request_id import MAX_REQUEST_ID_LENGTH


def client_request_id_field() -> models.CharField:
    """The column that keeps a client's X-Request-ID beside the gateway's own id (audit and
    payload records alike)."""
    return models.CharField(
        max_length=MAX_REQUEST_ID_LENGTH,
        blank=True,
        default="",
        # In the database too: rows written without it (a gateway of the version before,
        # during a rolling upgrade) get "" instead of failing NOT NULL.
        db_default="",
        db_index=True,
        help_text="The client's X-Request-ID, if it sent a usable one.",
    )


class AuditRecord(models.Model):
    """One API request, successful or not. No payloads are stored.

    The caller columns keep their ids without a foreign-key constraint: records are
    written in batches off the request path and must outlive deleted users and keys.
    """

    created_at = models.DateTimeField(db_index=True)
    request_id = models.CharField(
        max_length=MAX_REQUEST_ID_LENGTH, db_index=True, help_text="The gateway's own id."
    )
    client_request_id = client_request_id_field()
    trace_id = models.CharField(
        max_length=32, blank=True, help_text="OpenTelemetry trace id; empty while tracing is off."
    )
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
    traffic_route = models.CharField(
        max_length=20,
        blank=True,
        default="",
        db_default="",  # rows written by raw SQL (bulk loads, tests) that predate the column
        help_text="Chosen by the traffic policy: split, sticky or shadow (a copy).",
    )
    shadow_differs = models.BooleanField(
        null=True, blank=True, help_text="A shadow copy's answer differed from the client's."
    )

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=("model_name", "created_at"))]

    def __str__(self) -> str:
        return f"{self.http_method} {self.path} -> {self.http_status}"
