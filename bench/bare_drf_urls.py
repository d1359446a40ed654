"""The bare DRF view's one route (see bench/bare_drf_settings.py)."""

from __future__ import annotations

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class BarePredict(APIView):
    """``{"instances": [x, ...]}`` -> ``{"predictions": [0.5 x + 3, ...]}``: the answer of
    half_plus_two version 2, the gateway's benchmark predict, without a model server."""

    def post(self, request: Request) -> Response:
        return Response({"predictions": [0.5 * x + 3 for x in request.data["instances"]]})

    def finalize_response(self, request, response, *args, **kwargs):  # type: ignore[no-untyped-def]
        # With no middleware nothing sets Content-Length (the gateway's CommonMiddleware
        # does), and gunicorn would answer chunked: render here and set it, the same work.
        response = super().finalize_response(request, response, *args, **kwargs)
        response.render()
        response["Content-Length"] = str(len(response.content))
        return response


# bench/gateway_bench.py's BARE_DRF_PATH
urlpatterns = [path("bare/predict", BarePredict.as_view())]
