"""The routes: TF Serving's REST paths under /v1/models, tokens, docs, probes, metrics, ops page."""

from __future__ import annotations

from django.urls import URLPattern, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from predictions.access import views as token_views
from predictions.api import views
from predictions.deployments import views as deployment_views
from predictions.operations import views as operations_views
from predictions.operations.page import operations_page
from predictions.payloads import views as payload_views

_MODEL = r"^v1/models/(?P<name>[^/:]+)"
# TF Serving's three ways to address a model: its latest version, a version, a label.
# Versions are int64 in the protos: at most 18 digits always fit.
_SPECS = {
    "": "",
    "version": r"/versions/(?P<version>[0-9]{1,18})",
    "label": r"/labels/(?P<label>[^/:]+)",
}


def _model_routes(suffix: str, view: object, name: str) -> list[URLPattern]:
    """One route per way of addressing the model: model-predict, model-version-predict, ..."""
    return [
        re_path(
            f"{_MODEL}{pattern}{suffix}$",
            view,
            name=f"model-{kind}-{name}" if kind else f"model-{name}",
        )
        for kind, pattern in _SPECS.items()
    ]


urlpatterns = [
    re_path(r"^v1/models/?$", views.ModelListView.as_view(), name="model-list"),
    *_model_routes(":predict", views.PredictView.as_view(), "predict"),
    *_model_routes(":classify", views.ClassifyView.as_view(), "classify"),
    *_model_routes(":regress", views.RegressView.as_view(), "regress"),
    *_model_routes("/metadata", views.ModelMetadataView.as_view(), "metadata"),
    *_model_routes("/logging", payload_views.LoggingPolicyView.as_view(), "logging"),
    re_path(f"{_MODEL}/logs$", payload_views.PayloadLogListView.as_view(), name="model-logs"),
    # GET is TF Serving's status on all three; deployers also DELETE a version and PUT a label.
    re_path(f"{_MODEL}$", views.ModelStatusView.as_view(), name="model-status"),
    re_path(
        f"{_MODEL}{_SPECS['version']}$",
        deployment_views.VersionView.as_view(),
        name="model-version-status",
    ),
    re_path(
        f"{_MODEL}{_SPECS['label']}$",
        deployment_views.LabelView.as_view(),
        name="model-label-status",
    ),
    # Deployments (predictions.deployments), under the deploy permission.
    re_path(
        f"{_MODEL}/versions/?$", deployment_views.ModelVersionsView.as_view(), name="model-versions"
    ),
    re_path(f"{_MODEL}/traffic$", deployment_views.TrafficView.as_view(), name="model-traffic"),
    re_path(
        f"{_MODEL}/deployments$",
        deployment_views.DeploymentHistoryView.as_view(),
        name="model-deployments",
    ),
    re_path(f"{_MODEL}:rollback$", deployment_views.RollbackView.as_view(), name="model-rollback"),
    path("v1/auth/token", token_views.TokenObtainView.as_view(), name="token-obtain"),
    path("v1/auth/token/refresh", token_views.TokenRefreshView.as_view(), name="token-refresh"),
    path("v1/auth/token/verify", token_views.TokenVerifyView.as_view(), name="token-verify"),
    path("v1/schema", SpectacularAPIView.as_view(), name="schema"),
    path("v1/docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    re_path(r"^v1/", views.MalformedRequestView.as_view(), name="malformed-request"),
    path("healthz", operations_views.LivenessView.as_view(), name="healthz"),
    path("readyz", operations_views.ReadinessView.as_view(), name="readyz"),
    path("metrics", operations_views.MetricsView.as_view(), name="metrics"),
    path("ops/", operations_page, name="operations"),
]
