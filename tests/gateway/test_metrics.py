"""Prometheus metrics: what each API request adds, and who may read /metrics.

These run in one process, where prometheus_client keeps values in its default
registry; values are compared before and after, since other tests count too.
test_metrics_gunicorn.py shows the sums over several gunicorn workers.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.contrib.auth.models import User
from django.test import Client
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from predictions.models import AuditRecord
from tests.gateway.conftest import PASSWORD, make_user
from tests.support.processes import ROOT

pytestmark = pytest.mark.django_db

PREDICT = "/v1/models/half_plus_two:predict"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """How much a sample grew while the block ran."""

    def __init__(self, name: str, **labels: str) -> None:
        self.name, self.labels = name, labels

    def __enter__(self) -> Delta:
        self.before = sample(self.name, **self.labels)
        return self

    def __exit__(self, *exc: object) -> None:
        self.value = sample(self.name, **self.labels) - self.before


def test_a_prediction_is_counted_with_model_version_method_and_status(
    gateway: APIClient,
) -> None:
    with Delta(
        "gateway_requests_total", model="half_plus_two", version="2", method="predict", status="200"
    ) as requests:
        gateway.post(PREDICT, {"instances": [1.0]}, format="json")
        gateway.post(PREDICT, {"instances": [2.0]}, format="json")

    assert requests.value == 2


def test_a_prediction_is_timed_whole_and_at_the_model_server(gateway: APIClient) -> None:
    labels = {"model": "half_plus_two", "method": "predict"}
    with (
        Delta("gateway_request_duration_seconds_count", **labels) as requests,
        Delta("gateway_request_duration_seconds_sum", **labels) as request_seconds,
        Delta("gateway_upstream_duration_seconds_count", **labels) as calls,
        Delta("gateway_upstream_duration_seconds_sum", **labels) as upstream_seconds,
    ):
        gateway.post(PREDICT, {"instances": [1.0]}, format="json")

    assert (requests.value, calls.value) == (1, 1)
    assert 0 < upstream_seconds.value < request_seconds.value


def test_failed_model_server_call_is_counted_by_grpc_code_without_a_version(
    gateway: APIClient,
) -> None:
    with (
        Delta(
            "gateway_upstream_errors_total",
            model="half_plus_two",
            method="predict",
            code="NOT_FOUND",
        ) as errors,
        Delta(
            "gateway_requests_total",
            model="half_plus_two",
            version="",
            method="predict",
            status="404",
        ) as requests,
    ):
        gateway.post(
            "/v1/models/half_plus_two/versions/7:predict", {"instances": [1]}, format="json"
        )

    assert (errors.value, requests.value) == (1, 1)


def test_model_names_outside_the_catalogue_are_counted_as_other(gateway: APIClient) -> None:
    with Delta(
        "gateway_requests_total", model="other", version="", method="predict", status="404"
    ) as requests:
        gateway.post("/v1/models/made-up-1:predict", {"instances": [1]}, format="json")
        gateway.post("/v1/models/made-up-2:predict", {"instances": [1]}, format="json")

    assert requests.value == 2
    made_up = {"model": "made-up-1", "version": "", "method": "predict", "status": "404"}
    assert sample("gateway_requests_total", **made_up) == 0


def test_requests_in_flight_returns_to_zero(gateway: APIClient) -> None:
    gateway.post(PREDICT, {"instances": [1.0]}, format="json")

    assert sample("gateway_requests_in_flight") == 0


@pytest.mark.parametrize(
    ("credentials", "reason"),
    [
        ({"HTTP_AUTHORIZATION": "Bearer not-a-jwt"}, "token_not_valid"),
        ({"HTTP_X_API_KEY": "0123456789ab.nope"}, "invalid_api_key"),
        ({}, "not_authenticated"),
    ],
    ids=["bad-jwt", "bad-api-key", "none"],
)
def test_refused_credentials_are_counted_by_reason(
    credentials: dict[str, str], reason: str, model_server_address: str
) -> None:
    with Delta("gateway_auth_failures_total", reason=reason) as failures:
        APIClient().post(PREDICT, {"instances": [1]}, format="json", **credentials)

    assert failures.value == 1


def test_wrong_password_at_the_token_endpoint_is_counted_once(alice: User) -> None:
    with (
        Delta("gateway_auth_failures_total", reason="no_active_account") as token_failures,
        Delta("gateway_auth_failures_total", reason="login_failed") as login_failures,
    ):
        APIClient().post("/v1/auth/token", {"username": "alice", "password": "wrong"})

    assert (token_failures.value, login_failures.value) == (1, 0)


def test_wrong_password_on_the_login_form_is_counted(alice: User) -> None:
    with Delta("gateway_auth_failures_total", reason="login_failed") as failures:
        Client().post("/api-auth/login/", {"username": "alice", "password": "wrong"})

    assert failures.value == 1


def test_docs_pages_are_neither_counted_nor_audited() -> None:
    with Delta("gateway_requests_total", model="", version="", method="", status="200") as requests:
        Client().get("/v1/schema")
        Client().get("/v1/docs")

    assert requests.value == 0
    assert AuditRecord.objects.count() == 0


# --- who may read /metrics ----------------------------------------------------------------


@pytest.fixture
def no_allowed_addresses(settings) -> None:
    settings.METRICS_ALLOWED_IPS = []


def test_metrics_are_prometheus_text_for_an_allowed_address() -> None:
    response = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert b"# TYPE gateway_requests_total counter" in response.content


def test_metrics_are_refused_to_other_addresses(no_allowed_addresses: None) -> None:
    response = Client(REMOTE_ADDR="127.0.0.1").get("/metrics")

    assert response.status_code == 403
    assert response.json() == {
        "error": "Metrics are open to staff, to scrapers with the metrics token and to "
        "METRICS_ALLOWED_IPS",
        "code": "permission_denied",
    }


@pytest.mark.parametrize(
    ("allowed", "address", "status"),
    [
        (["10.0.0.0/8"], "10.1.2.3", 200),
        (["10.0.0.0/8"], "192.168.1.1", 403),
        (["10.0.0.0/8"], "::ffff:10.1.2.3", 200),
        (["2001:db8::/32"], "2001:db8::5", 200),
        (["127.0.0.1"], "not-an-address", 403),
    ],
)
def test_allowed_addresses_may_be_networks(
    settings, allowed: list[str], address: str, status: int
) -> None:
    settings.METRICS_ALLOWED_IPS = allowed

    assert Client(REMOTE_ADDR=address).get("/metrics").status_code == status


def test_forwarded_for_header_does_not_open_metrics(no_allowed_addresses: None) -> None:
    response = Client(REMOTE_ADDR="203.0.113.9").get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1")

    assert response.status_code == 403


def test_metrics_token_opens_metrics(settings, no_allowed_addresses: None) -> None:
    settings.METRICS_TOKEN = "scrape-me-0123456789"

    right = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me-0123456789")
    wrong = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me-wrong")

    assert (right.status_code, wrong.status_code) == (200, 403)


def test_an_empty_metrics_token_opens_nothing(settings, no_allowed_addresses: None) -> None:
    settings.METRICS_TOKEN = ""

    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


@pytest.mark.parametrize(("staff", "status"), [(True, 200), (False, 403)])
def test_staff_sessions_may_read_metrics(
    no_allowed_addresses: None, staff: bool, status: int
) -> None:
    make_user("watcher", is_staff=staff)
    client = Client()
    client.login(username="watcher", password=PASSWORD)

    assert client.get("/metrics").status_code == status


def test_metrics_ignore_what_the_scraper_says_it_accepts() -> None:
    response = Client().get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")

    assert response.status_code == 200


def test_a_malformed_allowed_address_stops_the_gateway_at_start() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "METRICS_ALLOWED_IPS": "127.0.0.1,localhost"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "METRICS_ALLOWED_IPS must list addresses or networks (got 'localhost')" in result.stderr


def run_with_metrics_dir(value: str, cwd: str) -> subprocess.CompletedProcess:
    """A process that sets Django up (importing the metrics) and counts one failed login."""
    script = (
        "import django; django.setup(); "
        "from predictions.operations import metrics; metrics.login_failed()"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "serving_project.settings",
            "PROMETHEUS_MULTIPROC_DIR": value,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_empty_metrics_directory_variable_means_single_process_mode(tmp_path) -> None:
    result = run_with_metrics_dir("", str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []  # prometheus_client would write *.db files here


def test_a_missing_metrics_directory_is_created(tmp_path) -> None:
    directory = tmp_path / "not" / "yet"

    result = run_with_metrics_dir(str(directory), str(tmp_path))

    assert result.returncode == 0, result.stderr
    assert {path.name.split("_")[0] for path in directory.iterdir()} == {"counter", "gauge"}
