from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/v1/models", permanent=False)),
    path("admin/", admin.site.urls),
    # Session login and logout for the browsable API.
    path("api-auth/", include("rest_framework.urls")),
    path("", include("predictions.urls")),
]

handler404 = "predictions.views.not_found"
handler500 = "predictions.views.server_error"
