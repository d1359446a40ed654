"""The API's routes: TF Serving's REST paths under /v1/models, plus tokens and probes."""

from __future__ import annotations

from django.urls import path, re_path

from predictions import views

# /v1/models/{name}[/versions/{version}|/labels/{label}], as TF Serving's REST API.
# Versions are int64 in the protos: at most 18 digits always fit.
_MODEL = (
    r"^v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[0-9]{1,18})|/labels/(?P<label>[^/:]+))?"
)

urlpatterns = [
    re_path(r"^v1/models/?$", views.ModelListView.as_view(), name="model-list"),
    re_path(
        _MODEL + r":(?P<verb>predict|classify|regress)$",
        views.ModelInferenceView.as_view(),
        name="model-inference",
    ),
    re_path(_MODEL + r"/metadata$", views.ModelMetadataView.as_view(), name="model-metadata"),
    re_path(_MODEL + r"$", views.ModelStatusView.as_view(), name="model-status"),
    path("v1/auth/token", views.TokenObtainView.as_view(), name="token-obtain"),
    path("v1/auth/token/refresh", views.TokenRefreshView.as_view(), name="token-refresh"),
    path("v1/auth/token/verify", views.TokenVerifyView.as_view(), name="token-verify"),
    re_path(r"^v1/", views.MalformedRequestView.as_view(), name="malformed-request"),
    path("healthz", views.LivenessView.as_view(), name="healthz"),
    path("readyz", views.ReadinessView.as_view(), name="readyz"),
]
