"""One audit record per API request, whatever the outcome; no database work on the JWT hot path."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from predictions.access import services
from predictions.audit import writer as audit
from predictions.models import AuditRecord

pytestmark = pytest.mark.django_db

PREDICT = "/v1/models/half_plus_two:predict"


def test_successful_predict_leaves_one_complete_record(alice: User, gateway: APIClient) -> None:
    body = b'{"instances": [1.0, 2.0]}'
    response = gateway.post(
        PREDICT, body, content_type="application/json", HTTP_X_REQUEST_ID="audit-1"
    )

    record = AuditRecord.objects.get()
    assert (record.request_id, record.client_request_id) == (response["X-Request-ID"], "audit-1")
    assert (record.user_id, record.api_key_id, record.caller) == (alice.pk, None, "alice")
    assert (record.method, record.http_method, record.path) == ("predict", "POST", PREDICT)
    assert (record.model_name, record.model_version, record.version_label) == (
        "half_plus_two",
        2,
        "",
    )
    assert record.signature_name == "serving_default"
    assert (record.http_status, record.grpc_code, record.error_code) == (200, "OK", "")
    assert record.request_bytes == len(body)
    assert record.response_bytes == len(response.content)
    assert record.latency_ms > 0


def test_label_request_records_the_label_and_the_version_that_answered(
    gateway: APIClient,
) -> None:
    gateway.post(
        "/v1/models/half_plus_two/labels/stable:predict", {"instances": [1]}, format="json"
    )

    record = AuditRecord.objects.get()
    assert (record.version_label, record.model_version) == ("stable", 1)


def test_every_request_leaves_exactly_one_record_whatever_its_outcome(
    gateway: APIClient, settings
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200
    statuses = [
        gateway.post(PREDICT, {"instances": [1.0]}, format="json").status_code,
        gateway.post(PREDICT, {"instances": ["x"]}, format="json").status_code,
        gateway.post("/v1/models/nope:predict", {"instances": [1]}, format="json").status_code,
        gateway.post(PREDICT, {"instances": [1.0] * 100}, format="json").status_code,
        APIClient().post(PREDICT, {"instances": [1.0]}, format="json").status_code,
        gateway.get("/v1/models/half_plus_two").status_code,
        gateway.get("/v1/models/iris/metadata").status_code,
        gateway.get("/v1/models").status_code,
        gateway.get("/v1/unknown").status_code,
        APIClient().post("/v1/auth/token", {"username": "x", "password": "y"}).status_code,
    ]

    records = list(AuditRecord.objects.order_by("id").values_list("http_status", "error_code"))
    assert statuses == [200, 400, 404, 413, 401, 200, 200, 200, 404, 401]
    assert records == [
        (200, ""),
        (400, "invalid_argument"),
        (404, "not_found"),
        (413, "payload_too_large"),
        (401, "not_authenticated"),
        (200, ""),
        (200, ""),
        (200, ""),
        (404, "not_found"),
        (401, "no_active_account"),
    ]


def test_failed_upstream_call_records_its_grpc_code(gateway: APIClient) -> None:
    gateway.post("/v1/models/half_plus_two/versions/7:predict", {"instances": [1]}, format="json")

    record = AuditRecord.objects.get()
    assert (record.http_status, record.grpc_code, record.model_version) == (404, "NOT_FOUND", 7)


def test_request_rejected_before_any_grpc_call_records_no_grpc_code(gateway: APIClient) -> None:
    gateway.post(PREDICT, {"instances": [[1], [1, 2]]}, format="json")

    assert AuditRecord.objects.get().grpc_code == ""


def test_api_key_request_records_the_key(alice: User, model_server_address: str) -> None:
    issued = services.issue_api_key(alice, "job")

    APIClient().post(PREDICT, {"instances": [1]}, format="json", HTTP_X_API_KEY=issued.key)

    record = AuditRecord.objects.get()
    assert (record.user_id, record.api_key_id, record.caller) == (
        alice.pk,
        issued.api_key.pk,
        "alice",
    )


def test_health_probes_and_admin_are_not_audited(client) -> None:
    client.get("/healthz")

    assert AuditRecord.objects.count() == 0


def test_jwt_predict_makes_no_database_query_with_asynchronous_audit(
    gateway: APIClient, settings, django_assert_num_queries
) -> None:
    settings.AUDIT_SYNC = False
    audit.set_writer(audit.AuditWriter(queue_size=100, flush_seconds=0.1, background=False))
    body = {"instances": [1.0]}
    gateway.post(PREDICT, body, format="json")  # first call: grants and signature are cached

    with django_assert_num_queries(0):
        response = gateway.post(PREDICT, body, format="json")

    assert response.status_code == 200
    assert audit.flush() == 2
    assert AuditRecord.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_background_writer_commits_records_within_its_flush_interval(
    gateway: APIClient, settings
) -> None:
    settings.AUDIT_SYNC = False
    audit.set_writer(audit.AuditWriter(queue_size=100, flush_seconds=0.05))

    gateway.post(PREDICT, {"instances": [1.0]}, format="json")
    deadline = time.monotonic() + 5
    while not AuditRecord.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.02)

    assert AuditRecord.objects.count() == 1


def test_full_queue_writes_synchronously_instead_of_dropping(gateway: APIClient, settings) -> None:
    settings.AUDIT_SYNC = False
    audit.set_writer(audit.AuditWriter(queue_size=1, flush_seconds=0.1, background=False))

    for _ in range(3):
        gateway.post(PREDICT, {"instances": [1.0]}, format="json")

    assert AuditRecord.objects.count() == 2  # the queue holds the first; two overflowed
    assert audit.flush() == 1
    assert AuditRecord.objects.count() == 3
