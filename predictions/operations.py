"""The operations page for staff (/ops/): each model's versions and states on the model
server, and charts of its inference traffic over the last hour or day (from the audit
records, see traffic.py)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import SafeString

from predictions import services, traffic
from predictions.catalogue import catalogue_model_names
from predictions.charts import Series, line_chart

RATE_COLOR = "#417690"
P50_COLOR = "#2f9e44"
P95_COLOR = "#e8590c"
CLIENT_ERROR_COLOR = "#f59f00"
SERVER_ERROR_COLOR = "#c92a2a"


@dataclass(frozen=True)
class ModelPanel:
    state: services.ModelState
    traffic: traffic.ModelTraffic
    charts: tuple[SafeString, ...]


@staff_member_required
def operations_page(request: HttpRequest) -> HttpResponse:
    window = traffic.WINDOWS.get(request.GET.get("window", ""), traffic.WINDOWS["hour"])
    catalogue = catalogue_model_names()
    by_model = {
        model_traffic.model: model_traffic
        for model_traffic in traffic.model_traffic(window, models=catalogue)
    }
    # Catalogue models first, in file order, then any other model that had traffic.
    names = [*catalogue, *sorted(set(by_model) - set(catalogue))]
    states = services.model_server_states(names, request_id=getattr(request, "request_id", None))
    panels = [
        ModelPanel(state, by_model[state.name], _charts(by_model[state.name])) for state in states
    ]
    context = {
        **admin.site.each_context(request),
        "is_nav_sidebar_enabled": False,  # the charts need the width
        "title": "Operations",
        "window": window,
        "windows": traffic.WINDOWS.values(),
        "panels": panels,
        "now": timezone.now(),
    }
    return render(request, "predictions/operations.html", context)


def _charts(model_traffic: traffic.ModelTraffic) -> tuple[SafeString, ...]:
    points = model_traffic.points
    times = [point.start for point in points]
    time_format = "%H:%M"
    return (
        line_chart(
            "Requests per second",
            times,
            [
                Series(
                    "req/s",
                    RATE_COLOR,
                    [point.requests_per_second for point in points],
                    filled=True,
                )
            ],
            time_format=time_format,
            kind="rate",
        ),
        line_chart(
            "Latency of successful requests (ms)",
            times,
            [
                Series("p50", P50_COLOR, [point.p50_ms for point in points]),
                Series("p95", P95_COLOR, [point.p95_ms for point in points]),
            ],
            time_format=time_format,
            kind="latency",
        ),
        line_chart(
            "Errors (% of requests)",
            times,
            [
                Series("4xx", CLIENT_ERROR_COLOR, [point.client_error_percent for point in points]),
                Series("5xx", SERVER_ERROR_COLOR, [point.server_error_percent for point in points]),
            ],
            time_format=time_format,
            kind="errors",
        ),
    )
