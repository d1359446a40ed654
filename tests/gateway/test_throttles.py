"""Rate limits: per caller, per caller and model, and on the token endpoint; 429 + Retry-After."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from predictions.access import services
from predictions.access.throttles import Rate, parse_rate
from predictions.models import AuditRecord
from tests.gateway.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PREDICT = "/v1/models/half_plus_two:predict"
BODY = {"instances": [1.0]}


def test_caller_over_the_predict_rate_gets_429_with_retry_after(
    gateway: APIClient, settings
) -> None:
    settings.THROTTLE_PREDICT_RATE = "2/hour"

    statuses = [gateway.post(PREDICT, BODY, format="json").status_code for _ in range(3)]
    throttled = gateway.get("/v1/models/iris")

    assert statuses == [200, 200, 429]
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert throttled.json()["error"].startswith("Request was throttled.")
    assert 1 <= int(throttled["Retry-After"]) <= 3600


def test_each_api_key_has_its_own_budget(alice: User, gateway: APIClient, settings) -> None:
    settings.THROTTLE_PREDICT_RATE = "1/hour"
    key = services.issue_api_key(alice, "job").key
    gateway.post(PREDICT, BODY, format="json")

    response = APIClient().post(PREDICT, BODY, format="json", HTTP_X_API_KEY=key)

    assert response.status_code == 200


def test_per_model_rate_limits_one_model_and_leaves_others(gateway: APIClient, settings) -> None:
    settings.THROTTLE_MODEL_RATE = "1/hour"

    first = gateway.post(PREDICT, BODY, format="json")
    second = gateway.post(PREDICT, BODY, format="json")
    other_model = gateway.get("/v1/models/iris")

    assert (first.status_code, second.status_code, other_model.status_code) == (200, 429, 200)
    assert "Retry-After" in second


def test_token_endpoint_is_rate_limited_per_client_address(alice: User, settings) -> None:
    settings.THROTTLE_TOKEN_RATE = "2/hour"
    client = APIClient()
    wrong = {"username": "alice", "password": "guess"}

    statuses = [client.post("/v1/auth/token", wrong).status_code for _ in range(2)]
    blocked = client.post("/v1/auth/token", {"username": "alice", "password": PASSWORD})

    assert statuses == [401, 401]
    assert blocked.status_code == 429
    assert "Retry-After" in blocked


def test_throttled_requests_are_audited(gateway: APIClient, settings) -> None:
    settings.THROTTLE_PREDICT_RATE = "1/hour"

    gateway.post(PREDICT, BODY, format="json")
    gateway.post(PREDICT, BODY, format="json")

    assert list(AuditRecord.objects.order_by("id").values_list("http_status", flat=True)) == [
        200,
        429,
    ]


def test_empty_rate_means_unlimited(gateway: APIClient, settings) -> None:
    settings.THROTTLE_PREDICT_RATE = ""

    statuses = {gateway.post(PREDICT, BODY, format="json").status_code for _ in range(5)}

    assert statuses == {200}


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10/s", Rate(10, 1)),
        ("100/min", Rate(100, 60)),
        ("5/hour", Rate(5, 3600)),
        ("1/day", Rate(1, 86400)),
    ],
)
def test_rates_use_drf_syntax(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate


def test_malformed_rate_is_a_configuration_error() -> None:
    with pytest.raises(ImproperlyConfigured, match="Invalid rate 'ten/min'"):
        parse_rate("ten/min")
