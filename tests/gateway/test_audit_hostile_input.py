"""No request, however malformed, stops the audit trail (run on SQLite and PostgreSQL).

Hostile values are bounded where the entry is made; a record the database still refuses
is set aside and counted while the rest of its batch is written; a dead writer thread is
started again; a stuck writer makes /readyz fail.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest
from django.db import OperationalError
from django.utils import timezone
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from predictions.audit import rows
from predictions.audit import writer as audit
from predictions.audit.entry import AuditEntry
from predictions.audit.rows import Row
from predictions.models import AuditRecord
from serving_project.log_format import RequestIdFilter
from tests.support.processes import free_port

pytestmark = pytest.mark.django_db(transaction=True)

PREDICT = "/v1/models/half_plus_two:predict"
HUGE_LENGTH = "99999999999999999999"


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _holds(condition):
            return True
        time.sleep(0.02)
    return _holds(condition)


def _holds(condition) -> bool:
    try:
        return condition()
    except OperationalError as error:
        # SQLite's in-memory test database is one shared cache: a read while the writer
        # thread holds its insert open is refused at once ("database table is locked")
        # instead of waiting, as a file database in WAL mode (and PostgreSQL) would.
        if "locked" not in str(error):
            raise
        return False


@pytest.fixture
def background_writer(settings) -> audit.AuditWriter:
    settings.AUDIT_SYNC = False
    writer = audit.AuditWriter(queue_size=1000, flush_seconds=0.02)
    audit.set_writer(writer)
    return writer


def raw_record(request_id: str, **fields: object) -> Row:
    """A record as the database sees it, without the bounds the entry applies."""
    values = {
        "created_at": timezone.now(),
        "request_id": request_id,
        "method": "predict",
        "http_method": "POST",
        "path": PREDICT,
        "http_status": 200,
        "latency_ms": 1.0,
        **fields,
    }
    return rows.raw_row(values)


def refused_value_record(request_id: str) -> Row:
    # Beyond a bigint on every database: SQLite's driver raises OverflowError,
    # PostgreSQL answers DataError (bigint out of range).
    return raw_record(request_id, request_bytes=10**20)


def hostile_requests(anonymous: APIClient, alice_client: APIClient) -> None:
    anonymous.post(PREDICT, b"{}", content_type="application/json", CONTENT_LENGTH=HUGE_LENGTH)
    anonymous.post("/v1/models/a%00b:predict", {"instances": [1.0]}, format="json")
    alice_client.post("/v1/models/a%00b:predict", {"instances": [1.0]}, format="json")
    alice_client.post(PREDICT, {"signature_name": "a\x00b", "instances": [1.0]}, format="json")
    alice_client.post(
        PREDICT,
        b'{"signature_name": "\\ud800", "instances": [1.0]}',
        content_type="application/json",
    )
    alice_client.post(PREDICT, {"signature_name": "s" * 5000, "instances": [1.0]}, format="json")


def test_hostile_requests_leave_bounded_records_and_every_later_one_is_audited(
    alice_client: APIClient, model_server_address: str, background_writer: audit.AuditWriter
) -> None:
    hostile_requests(APIClient(), alice_client)
    ids = [f"after-{index}" for index in range(20)]
    for request_id in ids:
        response = alice_client.post(
            PREDICT, {"instances": [1.0]}, format="json", HTTP_X_REQUEST_ID=request_id
        )
        assert response.status_code == 200

    assert wait_for(lambda: AuditRecord.objects.count() == 6 + len(ids))
    assert AuditRecord.objects.filter(client_request_id__in=ids).count() == len(ids)
    assert background_writer.refused == 0  # bounded at the entry, nothing left to refuse
    records = AuditRecord.objects.exclude(client_request_id__in=ids)
    assert all("\x00" not in record.path + record.signature_name for record in records)
    assert max(record.request_bytes for record in records) == 2**63 - 1


def test_entry_bounds_every_value_to_its_column() -> None:
    entry = AuditEntry(
        created_at=timezone.now(),
        started=time.perf_counter(),
        request_id="r",
        http_method="POST" * 10,
        path="/v1/\x00" + "p" * 400,
        request_bytes=10**30,
        model_name="m\x00\ud800",
        model_version=10**30,
        signature_name="s" * 500,
    )

    record = rows.as_dict(entry.to_row(http_status=10**6, response_bytes=-5))

    assert record["http_method"] == "POSTPOST"
    assert record["path"] == "/v1/" + "p" * 251
    assert record["request_bytes"] == 2**63 - 1
    assert record["model_name"] == "m?"
    assert record["model_version"] is None
    assert len(record["signature_name"]) == 200
    assert (record["http_status"], record["response_bytes"]) == (32767, 0)


def test_refused_record_is_set_aside_and_its_batch_written(settings) -> None:
    settings.AUDIT_SYNC = False
    writer = audit.AuditWriter(queue_size=100, flush_seconds=0.1, background=False)
    audit.set_writer(writer)
    refused_before = metric("gateway_audit_records_dropped_total", reason="refused")
    written_before = metric("gateway_audit_records_written_total")

    writer.submit(raw_record("good-1"))
    writer.submit(refused_value_record("bad-1"))
    writer.submit(raw_record("good-2"))
    written = writer.flush()

    assert written == 2
    assert sorted(AuditRecord.objects.values_list("request_id", flat=True)) == ["good-1", "good-2"]
    assert (writer.refused, writer.dropped) == (1, 1)
    assert metric("gateway_audit_records_dropped_total", reason="refused") == refused_before + 1
    assert metric("gateway_audit_records_written_total") == written_before + 2
    assert writer.flush() == 0  # the refused record is not retried for ever


def test_background_writer_survives_a_refused_record(
    background_writer: audit.AuditWriter,
) -> None:
    background_writer.submit(refused_value_record("bad-1"))
    assert wait_for(lambda: background_writer.refused == 1)

    for index in range(10):
        background_writer.submit(raw_record(f"later-{index}"))

    assert wait_for(lambda: AuditRecord.objects.count() == 10)
    assert background_writer.status().running


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_dead_writer_thread_is_started_again(
    background_writer: audit.AuditWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fault no record can cause now that the loop catches every Exception: the
    # thread ending anyway (as SystemExit from a library would end it).
    real_write = audit.write_records
    killed = threading.Event()

    def die_once(records: list[Row]) -> tuple[int, int]:
        if not killed.is_set():
            killed.set()
            raise SystemExit("thread ended")
        return real_write(records)

    monkeypatch.setattr(audit, "write_records", die_once)
    restarts_before = metric("gateway_audit_writer_restarts_total")
    background_writer.submit(raw_record("first"))
    assert wait_for(lambda: killed.is_set() and not background_writer.status().running)

    background_writer.submit(raw_record("second"))

    assert wait_for(lambda: AuditRecord.objects.count() == 2)
    assert background_writer.restarts == 1
    assert metric("gateway_audit_writer_restarts_total") == restarts_before + 1


def test_stuck_writer_makes_readyz_fail_and_shows_in_metrics(
    background_writer: audit.AuditWriter,
    model_server_address: str,
    monkeypatch: pytest.MonkeyPatch,
    settings,
) -> None:
    # The database refusing every connection: a fault the test database cannot take on.
    def unavailable(records: list[Row]) -> tuple[int, int]:
        raise audit.DatabaseUnavailable("OperationalError: connection refused")

    monkeypatch.setattr(audit, "write_records", unavailable)
    monkeypatch.setattr(audit, "STUCK_SECONDS", 0.2)
    settings.METRICS_TOKEN = "scrape-secret"
    failures_before = metric("gateway_audit_write_failures_total")
    background_writer.submit(raw_record("stuck-1"))
    assert wait_for(lambda: metric("gateway_audit_write_failures_total") > failures_before)
    time.sleep(0.3)

    anonymous = APIClient().get("/readyz")
    detailed = APIClient().get("/readyz", HTTP_AUTHORIZATION="Bearer scrape-secret")

    assert anonymous.status_code == 503
    assert anonymous.json() == {"status": "unavailable"}
    assert detailed.json()["checks"]["audit"].startswith("error: audit writer stuck, 1 records")
    assert detailed.json()["audit"]["pending"] == 1
    assert "OperationalError" in detailed.json()["audit"]["last_error"]
    assert metric("gateway_audit_pending_records") == 1


def test_readyz_tells_anyone_only_ready_or_not(model_server_address: str) -> None:
    response = APIClient().get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_readyz_detail_for_the_metrics_token_and_staff(
    model_server_address: str, settings, django_user_model
) -> None:
    settings.METRICS_TOKEN = "scrape-secret"
    staff = APIClient()
    staff.force_login(django_user_model.objects.create_user("op", is_staff=True))

    for client, headers in (
        (APIClient(), {"HTTP_AUTHORIZATION": "Bearer scrape-secret"}),
        (staff, {}),
    ):
        body = client.get("/readyz", **headers).json()
        assert body["status"] == "ready"
        assert body["models"]["half_plus_two"] == "AVAILABLE"
        assert body["checks"]["audit"] == "ok"

    wrong = APIClient().get("/readyz", HTTP_AUTHORIZATION="Bearer guess").json()
    assert wrong == {"status": "ready"}


def test_log_line_of_a_5xx_answer_carries_the_request_id(alice_client: APIClient, settings) -> None:
    settings.TFSERVING_ADDRESS = f"127.0.0.1:{free_port()}"  # nothing listens: 503
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        response = alice_client.post(
            PREDICT, {"instances": [1.0]}, format="json", HTTP_X_REQUEST_ID="five-oh-three"
        )
    finally:
        logger.removeHandler(handler)

    assert response.status_code == 503
    assert [record.request_id for record in records] == [response["X-Request-ID"]]
