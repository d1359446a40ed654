"""The deployment tables in the admin. Changes go through the services, so each one is
checked, recorded in the history and pushed to the model servers like an API call;
labels and traffic policies are changed through the API (they need availability checks)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from predictions.access.callers import Caller
from predictions.context import RequestContext
from predictions.deployments import services
from predictions.deployments.models import (
    DeployGrant,
    DeploymentEvent,
    ReconcileReport,
    ServedModel,
    VersionLabel,
)
from predictions.deployments.state import VersionPolicy
from tfserving.errors import GatewayError


def _actor(request: HttpRequest) -> Caller:
    return Caller(user_id=request.user.pk, username=request.user.get_username())


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class LabelInline(admin.TabularInline):
    model = VersionLabel
    fields = ("label", "version")
    readonly_fields = ("label", "version")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ServedModel)
class ServedModelAdmin(admin.ModelAdmin):
    list_display = ("name", "base_path", "policy", "label_list", "traffic", "updated_at")
    search_fields = ("name",)
    inlines = [LabelInline]
    actions = ("roll_back",)

    def get_fields(self, request: HttpRequest, obj: ServedModel | None = None) -> tuple:
        policy = ("version_policy", "latest_versions", "specific_versions")
        if obj is None:
            return ("name", "base_path", *policy)
        return ("name", "base_path", "platform", *policy, "traffic")

    def get_readonly_fields(self, request: HttpRequest, obj: ServedModel | None = None) -> tuple:
        return () if obj is None else ("name", "base_path", "platform", "traffic")

    @admin.display(description="version policy")
    def policy(self, model: ServedModel) -> str:
        return _policy(model).describe()

    @admin.display(description="labels")
    def label_list(self, model: ServedModel) -> str:
        return ", ".join(f"{label.label}→{label.version}" for label in model.labels.all())

    @admin.display(description="traffic (requests naming no version)")
    def traffic(self, model: ServedModel) -> str:
        split = ", ".join(f"{target} {weight}%" for target, weight in model.traffic_split.items())
        shadow = (
            f"; shadow {model.shadow_percent:g}% to {model.shadow_target}"
            if (model.shadow_target)
            else ""
        )
        return (
            (split or "the model server's latest") + (" (sticky)" if model.sticky else "") + shadow
        )

    def save_model(
        self, request: HttpRequest, obj: ServedModel, form: object, change: bool
    ) -> None:
        try:
            if change:
                services.set_version_policy(_actor(request), obj.name, _policy(obj))
            else:
                services.add_model(
                    _actor(request), obj.name, base_path=obj.base_path, policy=_policy(obj)
                )
                obj.pk = ServedModel.objects.get(name=obj.name).pk
        except GatewayError as error:
            self.message_user(request, error.message, messages.ERROR)

    def delete_model(self, request: HttpRequest, obj: ServedModel) -> None:
        self._remove(request, [obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ServedModel]) -> None:
        self._remove(request, list(queryset))

    def _remove(self, request: HttpRequest, models: list[ServedModel]) -> None:
        for model in models:
            try:
                services.remove_model(_actor(request), model.name)
            except GatewayError as error:
                self.message_user(request, f"{model.name}: {error.message}", messages.ERROR)

    @admin.action(description="Roll back the newest change of the selected models")
    def roll_back(self, request: HttpRequest, queryset: QuerySet[ServedModel]) -> None:
        context = RequestContext(caller=_actor(request))
        for model in queryset:
            try:
                result = services.rollback(context, model.name)
            except GatewayError as error:
                self.message_user(request, f"{model.name}: {error.message}", messages.ERROR)
                continue
            self.message_user(request, f"{model.name}: {result.deployment.summary}")


def _policy(model: ServedModel) -> VersionPolicy:
    return VersionPolicy(
        model.version_policy,
        count=model.latest_versions,
        versions=tuple(sorted(int(v) for v in model.specific_versions)),
    )


@admin.register(DeploymentEvent)
class DeploymentEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "model_name", "kind", "summary", "actor_name", "rolled_back_by")
    list_filter = ("kind", "model_name")
    search_fields = ("model_name", "summary", "actor_name")
    date_hierarchy = "created_at"


@admin.register(DeployGrant)
class DeployGrantAdmin(admin.ModelAdmin):
    list_display = ("model_name", "user", "group", "created_at")
    list_filter = ("model_name",)
    search_fields = ("model_name", "user__username", "group__name")
    raw_id_fields = ("user",)


@admin.register(ReconcileReport)
class ReconcileReportAdmin(ReadOnlyAdmin):
    list_display = ("backend", "checked_at", "revision", "outcome", "pushed")
