"""Request ids: the gateway makes its own for every request (audit, logs, model server,
X-Request-ID); a client's usable X-Request-ID is kept beside it and echoed back."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from predictions.audit.models import AuditRecord
from tests.support.processes import ROOT, model_server

pytestmark = pytest.mark.django_db

PREDICT = "/v1/models/half_plus_two:predict"


def test_request_id_reaches_the_model_server_as_grpc_metadata(
    alice_client: APIClient, settings, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("MODELSERVER_LOG_LEVEL", "DEBUG")  # it logs each call's x-request-id
    log = tmp_path / "modelserver.log"
    args = ["--model_name=half_plus_two", f"--model_base_path={ROOT / 'models' / 'half_plus_two'}"]
    with model_server(args=args, log_path=log) as server:
        settings.TFSERVING_ADDRESS = server.address
        response = alice_client.post(
            PREDICT, {"instances": [1.0]}, format="json", HTTP_X_REQUEST_ID="trace-7f3a"
        )

    assert response.status_code == 200
    request_id = response["X-Request-ID"]
    lines = [line for line in log.read_text().splitlines() if f"x-request-id={request_id}" in line]
    assert any("GetModelMetadata" in line for line in lines)  # the signature lookup
    assert any("Predict" in line for line in lines)


def test_a_client_cannot_give_two_requests_one_audit_id(gateway: APIClient) -> None:
    answers = [
        gateway.post(PREDICT, {"instances": [1.0]}, format="json", HTTP_X_REQUEST_ID="chosen")
        for _ in range(2)
    ]

    records = AuditRecord.objects.filter(client_request_id="chosen")
    assert sorted(records.values_list("request_id", flat=True)) == sorted(
        answer["X-Request-ID"] for answer in answers
    )
    assert len({answer["X-Request-ID"] for answer in answers}) == 2
    assert "chosen" not in {answer["X-Request-ID"] for answer in answers}
    assert {answer["X-Client-Request-ID"] for answer in answers} == {"chosen"}


def test_every_request_gets_a_new_id_of_32_hex_digits() -> None:
    ids = {APIClient().get("/healthz")["X-Request-ID"] for _ in range(5)}

    assert len(ids) == 5
    assert all(len(request_id) == 32 and int(request_id, 16) >= 0 for request_id in ids)


@pytest.mark.parametrize(
    "supplied",
    ["has spaces", "x" * 129, "ünïcode", ""],
    ids=["spaces", "long", "non-ascii", "empty"],
)
def test_an_unusable_client_request_id_is_not_kept(supplied: str) -> None:
    response = APIClient().get("/healthz", HTTP_X_REQUEST_ID=supplied)

    assert response["X-Request-ID"] != supplied
    assert len(response["X-Request-ID"]) == 32
    assert "X-Client-Request-ID" not in response


def test_an_unusable_client_request_id_leaves_the_audit_column_empty(gateway: APIClient) -> None:
    gateway.post(PREDICT, {"instances": [1.0]}, format="json", HTTP_X_REQUEST_ID="has spaces")

    assert AuditRecord.objects.get().client_request_id == ""


def test_rows_written_without_the_client_id_get_an_empty_one(gateway: APIClient) -> None:
    """A gateway of the version before this column (during a rolling upgrade) inserts
    records without it; the database fills it in instead of refusing them."""
    gateway.post(PREDICT, {"instances": [1.0]}, format="json")
    record = AuditRecord.objects.get()
    fields = [
        field
        for field in AuditRecord._meta.concrete_fields
        if field.name not in ("id", "client_request_id")
    ]
    columns = ", ".join(field.column for field in fields)
    values = [
        field.get_db_prep_save(getattr(record, field.attname), connection) for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AuditRecord._meta.db_table} ({columns})"
            f" VALUES ({', '.join(['%s'] * len(fields))})",
            values,
        )

    assert list(AuditRecord.objects.values_list("client_request_id", flat=True)) == ["", ""]
