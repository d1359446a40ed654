"""Staff manage users, groups, model grants and API keys here, and read the audit log."""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format

from predictions.access import services
from predictions.access.models import ApiKey, ModelGrant
from predictions.audit.models import AuditRecord
from predictions.deployments import admin as deployments_admin  # noqa: F401 (registers)
from predictions.payloads import admin as payload_admin  # noqa: F401 (registers its models)

User = get_user_model()

admin.site.site_header = "TF Serving gateway"
admin.site.site_title = "TF Serving gateway"
admin.site.index_title = "Users, grants, API keys and the audit log"


class UserGrantInline(admin.TabularInline):
    model = ModelGrant
    fk_name = "user"
    fields = ("model_name",)
    extra = 0


class GroupGrantInline(admin.TabularInline):
    model = ModelGrant
    fk_name = "group"
    fields = ("model_name",)
    extra = 0


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class GatewayUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, UserGrantInline]


@admin.register(Group)
class GatewayGroupAdmin(GroupAdmin):
    inlines = [*GroupAdmin.inlines, GroupGrantInline]


@admin.register(ModelGrant)
class ModelGrantAdmin(admin.ModelAdmin):
    list_display = ("model_name", "user", "group", "created_at")
    list_filter = ("model_name",)
    search_fields = ("model_name", "user__username", "group__name")
    raw_id_fields = ("user",)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    # Compact columns: with the filter sidebar the list must fit 1280 px without clipping.
    list_display = ("name", "state", "owner", "prefix", "created", "expires")
    list_filter = ("revoked_at", "expires_at")
    search_fields = ("name", "prefix", "owner__username")
    readonly_fields = ("prefix", "created_at", "revoked_at")
    raw_id_fields = ("owner",)
    actions = ("revoke",)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple:
        if obj is None:
            return ()
        return (*self.readonly_fields, "owner")

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple:
        if obj is None:
            return ("owner", "name", "expires_at")
        return ("owner", "name", "prefix", "created_at", "expires_at", "revoked_at")

    @admin.display(description="created", ordering="created_at")
    def created(self, api_key: ApiKey) -> str:
        return _compact_time(api_key.created_at)

    @admin.display(description="expires", ordering="expires_at")
    def expires(self, api_key: ApiKey) -> str:
        return _compact_time(api_key.expires_at) if api_key.expires_at else "never"

    @admin.display(description="state")
    def state(self, api_key: ApiKey) -> str:
        if api_key.is_revoked:
            return "revoked"
        return "expired" if api_key.is_expired(timezone.now()) else "active"

    def save_model(self, request: HttpRequest, obj: ApiKey, form: object, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        issued = services.issue_api_key(obj.owner, obj.name, expires_at=obj.expires_at)
        obj.pk = issued.api_key.pk
        obj.prefix = issued.api_key.prefix
        obj.key_hash = issued.api_key.key_hash
        obj.created_at = issued.api_key.created_at
        messages.warning(
            request,
            f"API key for {obj.owner}: {issued.key} — copy it now, it is not shown again.",
        )

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            services.revoke_api_key(api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


def _compact_time(value: datetime) -> str:
    return date_format(timezone.localtime(value), "Y-m-d H:i")


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "caller",
        "method",
        "model_name",
        "model_version",
        "http_status",
        "grpc_code",
        "latency_ms",
        "request_id",
    )
    list_filter = ("method", "http_status", "grpc_code", "model_name", "created_at")
    search_fields = ("request_id", "client_request_id", "caller", "model_name", "path")
    date_hierarchy = "created_at"
    show_full_result_count = False  # counting a large audit table on every page is slow

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditRecord | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditRecord | None = None) -> bool:
        return False
