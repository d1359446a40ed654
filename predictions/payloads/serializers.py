"""The JSON of the payload logging routes: a policy as PUT and GET, a logged exchange."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from predictions.payloads import sinks
from predictions.payloads.models import (
    DEFAULT_MAX_BYTES,
    DIRECTIONS,
    ERROR_CHOICES,
    ERRORS_ALWAYS,
    MAX_MAX_BYTES,
    MIN_MAX_BYTES,
    SINKS,
    PayloadLog,
)

_SINK_SETTINGS = {sinks.FILE: "PAYLOAD_LOG_FILE", sinks.CLOUDEVENTS: "PAYLOAD_CLOUDEVENTS_URL"}


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class PolicySerializer(serializers.Serializer):
    """A payload logging policy. Fields left out take their defaults (PUT replaces)."""

    sample_rate = serializers.FloatField(
        min_value=0.0,
        max_value=1.0,
        default=0.0,
        help_text="Share of successful exchanges logged, 0 to 1, chosen by request id.",
    )
    directions = serializers.ListField(
        child=serializers.ChoiceField(DIRECTIONS),
        allow_empty=False,
        default=list(DIRECTIONS),
        help_text="Which payloads are kept: request, response or both.",
    )
    errors = serializers.ChoiceField(
        ERROR_CHOICES,
        default=ERRORS_ALWAYS,
        help_text="always: every failed exchange is logged; sampled: like the others; never.",
    )
    max_bytes = serializers.IntegerField(
        min_value=MIN_MAX_BYTES,
        max_value=MAX_MAX_BYTES,
        default=DEFAULT_MAX_BYTES,
        help_text="Largest payload kept, in bytes of JSON; larger ones are cut and marked.",
    )
    redact = serializers.ListField(
        child=serializers.CharField(max_length=200, allow_blank=False),
        default=list,
        help_text="Inputs and outputs replaced by their dtype, shape and a keyed hash.",
    )
    sinks = serializers.ListField(
        child=serializers.ChoiceField(SINKS),
        allow_empty=False,
        default=["database"],
        help_text="Where logged exchanges go: database, file, cloudevents.",
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {unknown[0]: f"Unknown field; expected one of {', '.join(self.fields)}."}
                )
        return super().to_internal_value(data)

    def validate_directions(self, value: list[str]) -> list[str]:
        return _distinct(value)

    def validate_redact(self, value: list[str]) -> list[str]:
        return sorted(set(value))

    def validate_sinks(self, value: list[str]) -> list[str]:
        for name in value:
            if not sinks.configured(name):
                raise serializers.ValidationError(
                    f"The {name} sink is not configured here (set {_SINK_SETTINGS[name]})."
                )
        return _distinct(value)


class PolicyResponseSerializer(PolicySerializer):
    """A policy as GET returns it: where it applies, and whether one is set at all."""

    model = serializers.CharField()
    version = serializers.IntegerField(allow_null=True)
    label = serializers.CharField(allow_null=True)
    configured = serializers.BooleanField(help_text="False: no policy, nothing is logged.")
    updated_at = serializers.DateTimeField(allow_null=True)
    updated_by = serializers.CharField(allow_blank=True)


class PayloadLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = PayloadLog
        fields = (
            "id",
            "created_at",
            "request_id",
            "client_request_id",
            "trace_id",
            "model_name",
            "model_version",
            "version_label",
            "signature_name",
            "method",
            "caller",
            "http_status",
            "error_code",
            "reason",
            "request",
            "response",
            "request_bytes",
            "response_bytes",
            "request_truncated",
            "response_truncated",
            "redacted",
        )
