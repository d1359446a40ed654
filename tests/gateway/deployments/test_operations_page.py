"""The operations page compares a model's versions side by side and shows its deployment
history, so a person can decide to promote a canary or roll it back."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from predictions.audit import traffic
from predictions.audit.models import AuditRecord
from tests.gateway.conftest import PASSWORD, make_user
from tests.gateway.deployments.calls import put_traffic

HOUR = traffic.WINDOWS["hour"]


def record(
    version: int | None,
    *,
    status: int = 200,
    latency_ms: float = 10.0,
    method: str = "predict",
    differs: bool | None = None,
) -> AuditRecord:
    return AuditRecord(
        created_at=timezone.now() - timedelta(minutes=5),
        request_id="r",
        method=method,
        http_method="POST",
        path="/v1/models/m:predict",
        model_name="m",
        model_version=version,
        http_status=status,
        latency_ms=latency_ms,
        shadow_differs=differs,
    )


@pytest.mark.django_db
def test_versions_are_compared_by_share_latency_errors_and_shadow_disagreement(
    django_assert_num_queries,
) -> None:
    AuditRecord.objects.bulk_create(
        [record(1) for _ in range(8)]
        + [record(1, status=500, latency_ms=900.0)]
        + [record(2, latency_ms=50.0)]
        + [record(2, method="shadow", differs=True) for _ in range(3)]
        + [record(2, method="shadow", differs=False)]
        + [record(2, method="shadow", status=504)]
        + [record(None, status=400)]
    )

    with django_assert_num_queries(3):
        [v2, v1, unknown] = traffic.version_traffic(HOUR)["m"]

    assert (v1.version, v1.requests, v1.errors, v1.share_percent) == (1, 9, 1, 81.81818181818181)
    assert (v1.p50_ms, v1.p95_ms, v1.error_percent) == (10.0, 10.0, 100 / 9)
    assert (v2.version, v2.requests, v2.share_percent, v2.p50_ms) == (2, 1, 100 / 11, 50.0)
    assert (v2.shadow_copies, v2.shadow_differs, v2.shadow_errors) == (5, 3, 1)
    assert v2.disagreement_percent == 75.0  # 3 of the 4 copies that were answered
    assert (unknown.version, unknown.requests, unknown.errors) == (None, 1, 1)


@pytest.fixture
def staff_page(db) -> Client:
    make_user("operator", is_staff=True)
    client = Client()
    client.login(username="operator", password=PASSWORD)
    return client


def test_the_page_shows_each_versions_labels_split_and_the_history(
    repository: Path, deployer_client: APIClient, staff_page: Client
) -> None:
    put_traffic(deployer_client, {"split": {"stable": 90, "canary": 10}})
    deployer_client.post("/v1/models/half_plus_two:predict", {"instances": [1.0]}, format="json")

    page = staff_page.get("/ops/").content.decode()

    table = re.search(
        r'<table class="ops-compare" data-model="half_plus_two">(.*?)</table>', page, re.S
    )
    rows = {
        version: re.sub(r"<[^>]+>", "|", row)
        for version, row in re.findall(r'<tr data-version="(\d*)">(.*?)</tr>', table.group(1), re.S)
    }
    assert list(rows) == ["2", "1"]
    cells = {v: [c.strip() for c in row.split("|") if c.strip()] for v, row in rows.items()}
    assert cells["1"][:5] == ["v1", "stable", "90%", "100.0%", "1"]
    assert cells["2"][:5] == ["v2", "canary", "10%", "0.0%", "0"]
    assert "Serves all versions; requests naming no version: canary 10%, stable 90%." in page
    assert "deployer: traffic: split canary 10%, stable 90%" in page
    assert "seed: added from models.config" in page
