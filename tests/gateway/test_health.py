"""Liveness and readiness probes."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.support.processes import free_port

pytestmark = pytest.mark.django_db

METRICS_TOKEN = "probe-detail-token"


@pytest.fixture
def operator(settings) -> APIClient:
    """Sees the readiness detail (checks, models): the metrics token, as a scraper has."""
    settings.METRICS_TOKEN = METRICS_TOKEN
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    return client


def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_when_everything_is_up(model_server_address: str, operator) -> None:
    response = operator.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "cache": "ok", "model_server": "ok", "audit": "ok"},
        "models": {
            "half_plus_two": "AVAILABLE",
            "iris": "AVAILABLE",
            "sentiment": "AVAILABLE",
            "digits": "AVAILABLE",
        },
        "audit": {},  # records are written synchronously in these tests
    }


def test_readyz_is_503_when_the_model_server_is_down(settings, operator) -> None:
    settings.TFSERVING_ADDRESS = f"127.0.0.1:{free_port()}"

    response = operator.get("/readyz")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"]["model_server"] == "error: unavailable"


def test_readyz_is_503_when_a_catalogue_model_is_not_served(
    model_server_address: str, settings, tmp_path, operator
) -> None:
    config = tmp_path / "models.config"
    config.write_text(
        'model_config_list { config { name: "iris" base_path: "models/iris" }'
        ' config { name: "ghost" base_path: "models/ghost" } }'
    )
    settings.MODEL_CONFIG_FILE = str(config)

    response = operator.get("/readyz")

    assert response.status_code == 503
    assert response.json()["models"] == {"iris": "AVAILABLE", "ghost": "NOT_FOUND"}
