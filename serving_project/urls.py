from django.contrib import admin
from django.urls import include, path

from predictions.api.welcome import welcome

urlpatterns = [
    path("", welcome, name="welcome"),
    path("admin/", admin.site.urls),
    # Session login and logout for the browsable API.
    path("api-auth/", include("rest_framework.urls")),
    path("", include("predictions.api.urls")),
]

handler400 = "predictions.api.views.bad_request"
handler404 = "predictions.api.views.not_found"
handler500 = "predictions.api.views.server_error"
