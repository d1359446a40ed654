"""The operations page for staff (/ops/): each model's versions and states on the model
server, and charts of its inference traffic over the last hour or day (from the audit
records, see audit/traffic.py); for deciding whether to promote or roll back, its
versions side by side (request share, latency, errors, shadow disagreement) with
their labels and traffic weights, its deployment history, and what reconciliation
last found on each model server."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import SafeString

from predictions.audit import traffic
from predictions.deployments import selectors as deployments
from predictions.deployments.models import DeploymentEvent, ReconcileReport
from predictions.deployments.state import ModelState as DeployedModel
from predictions.inference import upstream
from predictions.inference.catalogue import catalogue_model_names
from predictions.operations.charts import Series, line_chart
from tfserving import codec
from tfserving.errors import UpstreamError
from tfserving.models import ModelRef

OTHER_MODELS_NOTE = "requests for names the model catalogue does not list, counted together"
RATE_COLOR = "#417690"
P50_COLOR = "#2f9e44"
P95_COLOR = "#e8590c"
CLIENT_ERROR_COLOR = "#f59f00"
SERVER_ERROR_COLOR = "#c92a2a"


@dataclass(frozen=True)
class ModelState:
    """A model as the model server reports it: (version, state) pairs, or why not."""

    name: str
    versions: tuple[tuple[int, str], ...] = ()
    problem: str = ""
    note: str = ""  # what the row is, where it is not a model


def model_server_states(names: Iterable[str], *, request_id: str | None = None) -> list[ModelState]:
    """The versions and states of ``names`` (for staff: no grants apply).

    Uses the probe client (short deadline, no retries) so the page answers quickly
    while the model server is down.
    """
    client = upstream.probe_client()
    states = []
    for name in names:
        try:
            response = client.get_model_status(ModelRef(name), request_id=request_id)
        except UpstreamError as error:
            states.append(ModelState(name, problem=f"{error.code}: {error.message}"))
            continue
        versions = codec.render_model_status(response)["model_version_status"]
        states.append(
            ModelState(
                name,
                tuple(sorted((int(v["version"]), v["state"]) for v in versions)),
            )
        )
    return states


@dataclass(frozen=True)
class VersionRow:
    """One version in the side-by-side comparison, with what points at it."""

    traffic: traffic.VersionTraffic
    labels: tuple[str, ...]
    weight: int | None  # its share in the traffic split (None: not in it)


@dataclass(frozen=True)
class DeployedState:
    """The model as the deployment tables have it."""

    policy: str
    split: str
    shadow: str


@dataclass(frozen=True)
class ModelPanel:
    state: ModelState
    traffic: traffic.ModelTraffic
    charts: tuple[SafeString, ...]
    versions: tuple[VersionRow, ...] = ()
    deployment: DeployedState | None = None
    history: tuple[DeploymentEvent, ...] = ()


HISTORY_LENGTH = 10


def version_rows(
    versions: list[traffic.VersionTraffic], deployed: DeployedModel | None
) -> tuple[VersionRow, ...]:
    known = {row.version for row in versions}
    idle = [
        traffic.VersionTraffic(v, 0, 0, 0.0, None, None)
        for v in (deployed.versions or () if deployed is not None else ())
        if v not in known
    ]
    rows = []
    for version in sorted([*versions, *idle], key=_newest_first):
        labels: tuple[str, ...] = ()
        weight = None
        if deployed is not None and version.version is not None:
            labels = tuple(
                label for label, v in sorted(deployed.labels.items()) if v == version.version
            )
            weights = [
                w
                for target, w in deployed.traffic.split
                if deployed.version_of(target) == version.version
            ]
            weight = sum(weights) if weights else None
        rows.append(VersionRow(version, labels, weight))
    return tuple(rows)


def _newest_first(row: traffic.VersionTraffic) -> int:
    return -(row.version if row.version is not None else -1)


def deployed_state(deployed: DeployedModel) -> DeployedState:
    split = ", ".join(f"{target} {weight}%" for target, weight in deployed.traffic.split)
    if deployed.traffic.sticky:
        split += " (sticky)"
    shadow = (
        f"{deployed.traffic.shadow_percent:g}% to {deployed.traffic.shadow_target}"
        if deployed.traffic.shadow_target
        else ""
    )
    return DeployedState(deployed.policy.describe(), split or "the latest version", shadow)


@staff_member_required
def operations_page(request: HttpRequest) -> HttpResponse:
    window = traffic.WINDOWS.get(request.GET.get("window", ""), traffic.WINDOWS["hour"])
    catalogue = catalogue_model_names()
    by_model = {
        model_traffic.model: model_traffic
        for model_traffic in traffic.model_traffic(window, models=catalogue, others_as_one=True)
    }
    states = model_server_states(catalogue, request_id=getattr(request, "request_id", None))
    # Catalogue models first, in file order, then all other names together.
    if traffic.OTHER_MODELS in by_model:
        states.append(ModelState(traffic.OTHER_MODELS, note=OTHER_MODELS_NOTE))
    versions = traffic.version_traffic(window)
    panels = []
    for state in states:
        deployed = deployments.model_state(state.name)
        panels.append(
            ModelPanel(
                state,
                by_model[state.name],
                _charts(by_model[state.name]),
                version_rows(versions.get(state.name, []), deployed),
                None if deployed is None else deployed_state(deployed),
                tuple(deployments.history(state.name, HISTORY_LENGTH)),
            )
        )
    context = {
        **admin.site.each_context(request),
        "is_nav_sidebar_enabled": False,  # the charts need the width
        "title": "Operations",
        "window": window,
        "windows": traffic.WINDOWS.values(),
        "panels": panels,
        "reconciliation": list(ReconcileReport.objects.all()),
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
