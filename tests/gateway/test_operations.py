"""The operations page for staff: model states from the model server, traffic charts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db.models.functions import Mod
from django.test import Client
from rest_framework.test import APIClient

from predictions.audit import traffic
from predictions.models import AuditRecord
from predictions.operations.charts import Series, format_number, line_chart, nice_ceiling
from tests.gateway.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 12, 30, 30, tzinfo=UTC)


def record(
    minutes_ago: float,
    *,
    model: str = "iris",
    status: int = 200,
    latency_ms: float = 10.0,
    method: str = "predict",
) -> AuditRecord:
    return AuditRecord(
        created_at=NOW - timedelta(minutes=minutes_ago),
        request_id="r",
        method=method,
        http_method="POST",
        path=f"/v1/models/{model}:{method}",
        model_name=model,
        http_status=status,
        latency_ms=latency_ms,
    )


@pytest.fixture
def staff_client(db) -> Client:
    make_user("operator", is_staff=True)
    client = Client()
    client.login(username="operator", password=PASSWORD)
    return client


def test_operations_page_sends_anonymous_visitors_to_the_admin_login() -> None:
    response = Client().get("/ops/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/ops/"


def test_operations_page_is_closed_to_users_who_are_not_staff(alice: User) -> None:
    client = Client()
    client.login(username="alice", password=PASSWORD)

    assert client.get("/ops/").status_code == 302


def test_operations_page_shows_each_models_versions_and_states(
    staff_client: Client, model_server_address: str
) -> None:
    page = staff_client.get("/ops/").content.decode()
    versions = re.findall(r'class="ops-version[^"]*">(v\d+ \w+)<', page)

    assert versions == [
        "v1 AVAILABLE",
        "v2 AVAILABLE",
        "v1 AVAILABLE",
        "v1 AVAILABLE",
        "v1 AVAILABLE",
    ]
    for model in ("half_plus_two", "iris", "sentiment", "digits"):
        assert f'id="model-{model}"' in page


def test_operations_page_draws_three_charts_per_model_from_the_traffic(
    staff_client: Client, gateway: APIClient
) -> None:
    gateway.post("/v1/models/half_plus_two:predict", {"instances": [1.0]}, format="json")
    gateway.post("/v1/models/half_plus_two:predict", {"instances": ["x"]}, format="json")

    page = staff_client.get("/ops/?window=day").content.decode()

    assert re.findall(r'data-chart="(\w+)"', page) == ["rate", "latency", "errors"] * 4
    assert "<strong>Last day</strong>" in page
    section = page.split('id="model-half_plus_two"')[1].split("</section>")[0]
    assert section.count("<polyline") + section.count("<circle") >= 3


def test_operations_page_counts_unknown_names_in_one_other_row(
    staff_client: Client, gateway: APIClient
) -> None:
    for name in ("nope", "typo", "nope"):
        gateway.post(f"/v1/models/{name}:predict", {"instances": [1.0]}, format="json")

    page = staff_client.get("/ops/").content.decode()

    assert 'id="model-nope"' not in page
    assert 'id="model-typo"' not in page
    other_row = page.split('href="#model-other"')[1].split("</tr>")[0]
    assert "<td>3</td>" in other_row  # requests
    assert re.findall(r'data-chart="(\w+)"', page) == ["rate", "latency", "errors"] * 5


def test_operations_page_says_when_the_model_server_is_down(staff_client: Client, settings) -> None:
    settings.TFSERVING_ADDRESS = "127.0.0.1:1"

    page = staff_client.get("/ops/").content.decode()

    assert page.count('class="ops-problem">unavailable: ') == 4


# --- the traffic numbers ---------------------------------------------------------------------


def test_traffic_counts_requests_errors_and_percentiles_per_minute() -> None:
    AuditRecord.objects.bulk_create(
        [
            *(record(2.0, latency_ms=float(ms)) for ms in range(1, 21)),  # 12:28, 20 requests
            record(2.0, status=404, latency_ms=1000.0),
            record(2.0, status=503, latency_ms=2000.0),
            record(0.25, latency_ms=7.0),  # 12:30, the minute under way
            record(0.25, method="status"),  # not inference
            record(75.0),  # outside the hour
        ]
    )

    [iris] = traffic.model_traffic(traffic.WINDOWS["hour"], now=NOW)

    points = {point.start.strftime("%H:%M"): point for point in iris.points}
    assert len(iris.points) == 60
    assert (iris.points[0].start, iris.points[-1].start) == (
        datetime(2026, 3, 4, 11, 31, tzinfo=UTC),
        datetime(2026, 3, 4, 12, 30, tzinfo=UTC),
    )
    busy = points["12:28"]
    assert (busy.requests, busy.client_errors, busy.server_errors) == (22, 1, 1)
    assert busy.requests_per_second == pytest.approx(22 / 60)
    assert (busy.p50_ms, busy.p95_ms) == (10.0, 19.0)  # successful requests only
    assert busy.server_error_percent == pytest.approx(100 / 22)
    assert points["12:30"].requests_per_second == pytest.approx(1 / 30)  # 30 s under way
    assert points["12:29"].requests == 0
    assert points["12:29"].p50_ms is None
    assert points["12:29"].client_error_percent is None
    assert (iris.requests, iris.errors) == (23, 2)
    assert (iris.p50_ms, iris.p95_ms) == (10.0, 19.0)


def test_day_window_has_hourly_buckets_and_lists_idle_models() -> None:
    AuditRecord.objects.bulk_create([record(60 * 5), record(60 * 5 + 10, model="sentiment")])

    models = traffic.model_traffic(traffic.WINDOWS["day"], now=NOW, models=["digits"])

    assert [model.model for model in models] == ["digits", "iris", "sentiment"]
    assert [len(model.points) for model in models] == [24, 24, 24]
    assert [model.requests for model in models] == [0, 1, 1]
    assert models[1].points[-6].start == datetime(2026, 3, 4, 7, tzinfo=UTC)


def test_traffic_takes_two_queries_and_samples_latencies(
    monkeypatch: pytest.MonkeyPatch, django_assert_num_queries
) -> None:
    monkeypatch.setattr(traffic, "LATENCY_SAMPLE_PER_MODEL", 10)
    AuditRecord.objects.bulk_create([record(1.0, latency_ms=1.0) for _ in range(100)])
    # The sample is every 10th record by id: only those take 1000 ms.
    sampled = AuditRecord.objects.annotate(position=Mod("id", 10)).filter(position=0)
    assert sampled.update(latency_ms=1000.0) == 10

    with django_assert_num_queries(2):
        [iris] = traffic.model_traffic(traffic.WINDOWS["hour"], now=NOW)

    assert iris.requests == 100  # counted in full
    assert iris.p50_ms == 1000.0  # from the sample alone (all 100 would give 1.0)


def test_percentile_is_nearest_rank() -> None:
    assert traffic.percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert traffic.percentile([5.0, 1.0, 3.0, 2.0, 4.0], 95) == 5.0
    assert traffic.percentile([], 50) is None


# --- the charts --------------------------------------------------------------------------------


def test_chart_draws_lines_with_gaps_and_escapes_its_text() -> None:
    times = [NOW + timedelta(minutes=i) for i in range(5)]

    svg = line_chart(
        "p50 <ms>",
        times,
        [Series("a&b", "#123456", [1.0, 2.0, None, 4.0, None])],
        kind="latency",
    )

    assert svg.startswith(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="latency"'
    )
    assert "<title>p50 &lt;ms&gt;</title>" in svg
    assert ">a&amp;b</text>" in svg
    assert svg.count("<polyline") == 1  # 1.0 -> 2.0; 4.0 stands alone
    assert svg.count("<circle") == 1


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (0.3, 0.4), (7, 8), (12, 20), (28, 40), (1.0, 1.0), (100, 100)]
)
def test_y_axis_has_four_round_steps(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == ceiling


def test_axis_labels_are_short() -> None:
    assert [format_number(v) for v in (0, 0.125, 2.5, 12.0, 37.5, 1500)] == [
        "0",
        "0.125",
        "2.5",
        "12",
        "37.5",
        "1.5k",
    ]
