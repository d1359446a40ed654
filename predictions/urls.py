"""The routes: TF Serving's REST paths under /v1/models, tokens, docs, probes, metrics, ops page."""

from __future__ import annotations

from django.urls import URLPattern, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from predictions import operations, views

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
    *_model_routes("", views.ModelStatusView.as_view(), "status"),
    path("v1/auth/token", views.TokenObtainView.as_view(), name="token-obtain"),
    path("v1/auth/token/refresh", views.TokenRefreshView.as_view(), name="token-refresh"),
    path("v1/auth/token/verify", views.TokenVerifyView.as_view(), name="token-verify"),
    path("v1/schema", SpectacularAPIView.as_view(), name="schema"),
    path("v1/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    re_path(r"^v1/", views.MalformedRequestView.as_view(), name="malformed-request"),
    path("healthz", views.LivenessView.as_view(), name="healthz"),
    path("readyz", views.ReadinessView.as_view(), name="readyz"),
    path("metrics", views.MetricsView.as_view(), name="metrics"),
    path("ops/", operations.operations_page, name="operations"),
]
