"""Request bodies of the deployment routes (DRF serializers: validation, the browsable
API's forms and the OpenAPI schema), and the shapes of their answers."""

from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers

from predictions.deployments.models import LABEL_PATTERN
from predictions.deployments.repository import MAX_VERSION

MAX_SPLIT_ENTRIES = 10


class PublishSerializer(serializers.Serializer):
    # The field name is uploads.ARCHIVE_FIELD, the one file the upload handler takes.
    archive = serializers.FileField(
        help_text="A .tar.gz, .tar or .zip of one SavedModel version folder "
        "(saved_model.pb and variables/ at its top or in its one top-level folder)."
    )
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_VERSION,
        help_text="The version number (default: one more than the highest the model had).",
    )
    wait = serializers.BooleanField(
        default=True,
        help_text="Answer once every model server reports the version AVAILABLE "
        "(at most PUBLISH_WAIT_SECONDS).",
    )


class LabelSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=0, max_value=MAX_VERSION, help_text="The AVAILABLE version the label points at."
    )


class ShadowSerializer(serializers.Serializer):
    target = serializers.CharField(
        max_length=100, help_text="A label, or a version number, that gets the copies."
    )
    percent = serializers.FloatField(
        min_value=0.0, max_value=100.0, help_text="Share of requests copied, 0-100."
    )


class TrafficSerializer(serializers.Serializer):
    split = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=100),
        default=dict,
        help_text='Weights summing to 100, by label or version: {"stable": 90, "canary": 10}. '
        "Empty: requests that name no version go to the model server's latest version.",
    )
    sticky = serializers.BooleanField(
        default=False, help_text="Each caller (user or API key) always gets the same entry."
    )
    shadow = ShadowSerializer(
        required=False,
        allow_null=True,
        default=None,
        help_text="Also send this share of requests to another label or version, in the "
        "background; the client's answer never waits for it.",
    )

    def validate_split(self, split: dict[str, int]) -> dict[str, int]:
        entries = {str(target): weight for target, weight in split.items() if weight}
        if len(entries) > MAX_SPLIT_ENTRIES:
            raise serializers.ValidationError(f"At most {MAX_SPLIT_ENTRIES} entries")
        if entries and sum(entries.values()) != 100:
            raise serializers.ValidationError(
                f"The weights must sum to 100 (they sum to {sum(entries.values())})"
            )
        for target in entries:
            _check_target(target)
        return entries

    def validate_shadow(self, shadow: dict[str, Any] | None) -> dict[str, Any] | None:
        if not shadow or not shadow["percent"]:
            return None
        _check_target(shadow["target"])
        return shadow


def _check_target(target: str) -> None:
    if not (target.isdigit() or re.match(LABEL_PATTERN, target)):
        raise serializers.ValidationError(f"{target!r} is neither a label nor a version number")


class DeploymentEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    summary = serializers.CharField()
    at = serializers.DateTimeField(source="created_at")
    actor = serializers.CharField(source="actor_name")
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    rolled_back_by = serializers.IntegerField(source="rolled_back_by_id", allow_null=True)


class ChangeSerializer(serializers.Serializer):
    model = serializers.CharField()
    deployment = DeploymentEventSerializer(allow_null=True)
    applied = serializers.BooleanField(
        help_text="Every model server took the change; otherwise see pending."
    )
    pending = serializers.ListField(child=serializers.CharField())


class TrafficStateSerializer(serializers.Serializer):
    model = serializers.CharField()
    split = serializers.DictField(child=serializers.IntegerField())
    sticky = serializers.BooleanField()
    shadow = ShadowSerializer(allow_null=True)


class VersionStateSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    state = serializers.CharField(help_text="As the model servers report it.")
    served = serializers.BooleanField(help_text="The version policy serves it.")
    labels = serializers.ListField(child=serializers.CharField())


class VersionsSerializer(serializers.Serializer):
    model = serializers.CharField()
    version_policy = serializers.JSONField()
    versions = VersionStateSerializer(many=True)
    retired = serializers.ListField(
        child=serializers.IntegerField(), help_text="Deleted versions a rollback can restore."
    )


class PublishedSerializer(ChangeSerializer):
    version = serializers.IntegerField()
    state = serializers.CharField()


class HistorySerializer(serializers.Serializer):
    model = serializers.CharField()
    deployments = DeploymentEventSerializer(many=True)
