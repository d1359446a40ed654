"""Payload logging in the admin: policies (changes recorded), their history, the exchanges."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from predictions.payloads import services, sinks
from predictions.payloads.models import (
    DIRECTIONS,
    SINKS,
    PayloadLog,
    PayloadLoggingPolicy,
    PayloadPolicyChange,
)
from predictions.payloads.policies import Policy


class PolicyForm(forms.ModelForm):
    directions = forms.MultipleChoiceField(
        choices=[(d, d) for d in DIRECTIONS], widget=forms.CheckboxSelectMultiple
    )
    sinks = forms.MultipleChoiceField(
        choices=[(s, s) for s in SINKS], widget=forms.CheckboxSelectMultiple
    )
    redact = forms.CharField(
        required=False,
        help_text="Input and output names, comma-separated.",
        widget=forms.TextInput(attrs={"size": 60}),
    )

    class Meta:
        model = PayloadLoggingPolicy
        fields = (
            "model_name",
            "model_version",
            "version_label",
            "sample_rate",
            "directions",
            "errors",
            "max_bytes",
            "redact",
            "sinks",
        )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["redact"] = ", ".join(self.instance.redact)

    def clean_redact(self) -> list[str]:
        return sorted(
            {name.strip() for name in self.cleaned_data["redact"].split(",") if name.strip()}
        )

    def clean_sinks(self) -> list[str]:
        chosen = self.cleaned_data["sinks"]
        missing = [name for name in chosen if not sinks.configured(name)]
        if missing:
            raise forms.ValidationError(f"Not configured on this gateway: {', '.join(missing)}")
        return chosen


@admin.register(PayloadLoggingPolicy)
class PayloadLoggingPolicyAdmin(admin.ModelAdmin):
    form = PolicyForm
    list_display = (
        "__str__",
        "sample_rate",
        "errors",
        "max_bytes",
        "sinks",
        "updated_at",
        "updated_by",
    )
    search_fields = ("model_name",)

    def save_model(
        self, request: HttpRequest, obj: PayloadLoggingPolicy, form: object, change: bool
    ) -> None:
        before = None
        if change:
            before = Policy.of(PayloadLoggingPolicy.objects.get(pk=obj.pk)).as_dict()
        obj.updated_by = request.user.get_username()
        super().save_model(request, obj, form, change)
        services.record_change(obj, before, Policy.of(obj).as_dict(), obj.updated_by, "admin")

    def delete_model(self, request: HttpRequest, obj: PayloadLoggingPolicy) -> None:
        before = Policy.of(obj).as_dict()
        super().delete_model(request, obj)
        services.record_change(obj, before, None, request.user.get_username(), "admin")

    def delete_queryset(self, request: HttpRequest, queryset: object) -> None:
        for obj in queryset:  # one recorded change per policy
            self.delete_model(request, obj)


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(PayloadPolicyChange)
class PayloadPolicyChangeAdmin(_ReadOnlyAdmin):
    list_display = (
        "changed_at",
        "model_name",
        "model_version",
        "version_label",
        "changed_by",
        "source",
    )
    list_filter = ("source", "model_name")
    readonly_fields = ("before", "after")

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def _pretty(value: object) -> str:
    return format_html(
        '<pre style="white-space: pre-wrap; max-height: 40em; overflow: auto">{}</pre>',
        json.dumps(value, indent=2, ensure_ascii=False),
    )


@admin.register(PayloadLog)
class PayloadLogAdmin(_ReadOnlyAdmin):
    """The exchanges, with the input and output shown as indented JSON."""

    list_display = (
        "created_at",
        "model_name",
        "model_version",
        "http_status",
        "reason",
        "caller",
        "request_id",
    )
    list_filter = ("model_name", "http_status", "reason", "created_at")
    search_fields = ("request_id", "client_request_id", "trace_id", "caller")
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (
        ("created_at", "model_name", "model_version", "version_label", "signature_name"),
        ("method", "http_status", "error_code", "reason", "caller"),
        ("request_id", "client_request_id", "audit_record", "trace_id"),
        ("request_bytes", "request_truncated", "response_bytes", "response_truncated", "redacted"),
        "input",
        "output",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> tuple:
        return tuple(
            name for row in self.fields for name in (row if isinstance(row, tuple) else (row,))
        )

    @admin.display(description="input (request)")
    def input(self, log: PayloadLog) -> str:
        return _pretty(log.request) if log.request is not None else "(not logged)"

    @admin.display(description="output (response)")
    def output(self, log: PayloadLog) -> str:
        return _pretty(log.response) if log.response is not None else "(not logged)"

    @admin.display(description="audit record")
    def audit_record(self, log: PayloadLog) -> str:
        url = reverse("admin:predictions_auditrecord_changelist")
        return format_html(
            '<a href="{}?{}">audit record</a>', url, urlencode({"q": log.request_id})
        )
