"""Payload logging: the policy routes, what is logged, redaction, truncation, the sinks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.test import APIClient

from predictions.models import AuditRecord, PayloadLog, PayloadPolicyChange
from predictions.payloads import policies, sinks
from predictions.payloads.models import SINKS
from predictions.payloads.redaction import REDACTED_MESSAGE
from tests.gateway.conftest import make_user
from tests.support.cloudevents_receiver import CloudEventsReceiver, cloudevents_receiver
from tests.support.processes import free_port

pytestmark = pytest.mark.django_db

PREDICT = "/v1/models/half_plus_two:predict"
SENTIMENT = "/v1/models/sentiment:predict"
LOGGING = "/v1/models/half_plus_two/logging"
SECRET = "Tell nobody: the vault code is 7301-SECRET"


@pytest.fixture(autouse=True)
def fresh_policies() -> Iterator[None]:
    """The per-process policy snapshot and sink writers start empty and end empty."""
    policies.forget()
    sinks.set_writers(None)
    yield
    policies.forget()
    for writer in sinks.set_writers(None).values():
        if writer is not None:
            writer.stop()


@pytest.fixture
def staff(client_for: Callable[[User], APIClient]) -> APIClient:
    return client_for(make_user("operator", is_staff=True))


@pytest.fixture
def receiver() -> Iterator[CloudEventsReceiver]:
    with cloudevents_receiver() as running:
        yield running


@pytest.fixture
def every_sink(settings, tmp_path: Path, receiver: CloudEventsReceiver) -> Path:
    """All three sinks configured, written only when the test flushes them."""
    settings.PAYLOAD_LOG_FILE = str(tmp_path / "payloads.jsonl")
    settings.PAYLOAD_CLOUDEVENTS_URL = receiver.url
    sinks.set_writers({name: sinks.new_writer(name, background=False) for name in SINKS})
    return tmp_path / "payloads.jsonl"


def set_policy(client: APIClient, path: str = LOGGING, **policy: object):
    return client.put(path, policy, format="json")


# --- the policy routes ---------------------------------------------------------------------


def test_staff_set_a_policy_and_read_it_back(staff: APIClient) -> None:
    body = {
        "sample_rate": 0.1,
        "directions": ["request", "response"],
        "errors": "always",
        "max_bytes": 65536,
        "redact": ["x"],
        "sinks": ["database"],
    }

    put = staff.put(LOGGING, body, format="json")
    got = staff.get(LOGGING)

    assert put.status_code == 200
    assert got.json() == {
        **body,
        "model": "half_plus_two",
        "version": None,
        "label": None,
        "configured": True,
        "updated_at": got.json()["updated_at"],
        "updated_by": "operator",
    }


def test_a_model_without_a_policy_reads_as_logging_nothing(staff: APIClient) -> None:
    policy = staff.get("/v1/models/iris/versions/1/logging").json()

    assert (policy["configured"], policy["sample_rate"], policy["version"]) == (False, 0.0, 1)


def test_callers_who_are_not_staff_get_the_404_of_an_unknown_model(
    alice_client: APIClient, staff: APIClient, model_server_address: str
) -> None:
    unknown = alice_client.post("/v1/models/nope:predict", {"instances": [1]}, format="json")

    answers = [
        alice_client.get("/v1/models/nope/logging"),
        alice_client.put("/v1/models/nope/logging", {"sample_rate": 1}, format="json"),
        alice_client.delete("/v1/models/nope/logging"),
        alice_client.get("/v1/models/nope/logs"),
    ]

    assert unknown.status_code == 404
    for answer in answers:
        assert (answer.status_code, answer.json()) == (404, unknown.json())
    assert staff.get("/v1/models/nope/logging").json()["configured"] is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"sample_rate": 1.5}, "sample_rate: Ensure this value is less than or equal to 1.0."),
        ({"directions": ["sideways"]}, 'directions: 0: "sideways" is not a valid choice.'),
        ({"directions": []}, "directions: This list may not be empty."),
        ({"errors": "sometimes"}, 'errors: "sometimes" is not a valid choice.'),
        ({"max_bytes": 10}, "max_bytes: Ensure this value is greater than or equal to 1024."),
        ({"redact": "x"}, 'redact: Expected a list of items but got type "str".'),
        (
            {"sinks": ["file"]},
            "sinks: The file sink is not configured here (set PAYLOAD_LOG_FILE).",
        ),
        (
            {"sample": 1},
            "sample: Unknown field; expected one of sample_rate, directions, "
            "errors, max_bytes, redact, sinks.",
        ),
    ],
)
def test_a_bad_policy_gets_a_400_naming_the_field(
    staff: APIClient, body: dict, message: str
) -> None:
    response = set_policy(staff, **body)

    assert (response.status_code, response.json()["error"]) == (400, message)


def test_every_change_is_recorded_with_the_policy_before_and_after(staff: APIClient) -> None:
    answers = [
        staff.put(LOGGING, {"sample_rate": 0.5}, format="json"),
        staff.put(LOGGING, {"sample_rate": 1.0}, format="json"),
        staff.delete(LOGGING),
    ]

    changes = list(PayloadPolicyChange.objects.order_by("id"))
    assert [
        (c.before and c.before["sample_rate"], c.after and c.after["sample_rate"]) for c in changes
    ] == [(None, 0.5), (0.5, 1.0), (1.0, None)]
    assert {(c.changed_by, c.source) for c in changes} == {("operator", "api")}
    assert [c.request_id for c in changes] == [answer["X-Request-ID"] for answer in answers]
    audited = AuditRecord.objects.filter(method="logging").values_list("http_method", flat=True)
    assert sorted(audited) == ["DELETE", "PUT", "PUT"]


# --- what is logged --------------------------------------------------------------------------


def test_a_logged_exchange_is_linked_to_its_audit_record(
    gateway: APIClient, staff: APIClient
) -> None:
    set_policy(staff, sample_rate=1.0)

    response = gateway.post(
        PREDICT, {"instances": [1.0, 2.0]}, format="json", HTTP_X_REQUEST_ID="log-1"
    )
    sinks.flush()

    log = PayloadLog.objects.get()
    audit = AuditRecord.objects.get(request_id=log.request_id)
    assert (log.request_id, log.client_request_id) == (response["X-Request-ID"], "log-1")
    assert (audit.client_request_id, audit.method, audit.http_status) == ("log-1", "predict", 200)
    assert (log.request, log.response) == ({"instances": [1.0, 2.0]}, {"predictions": [3.5, 4.0]})
    assert (log.model_version, log.signature_name, log.caller, log.reason) == (
        2,
        "serving_default",
        "alice",
        "sampled",
    )


def test_without_a_policy_nothing_is_logged(gateway: APIClient) -> None:
    gateway.post(PREDICT, {"instances": [1.0]}, format="json")
    sinks.flush()

    assert PayloadLog.objects.count() == 0


def test_errors_are_logged_always_when_so_configured_even_at_sample_rate_zero(
    gateway: APIClient, staff: APIClient
) -> None:
    set_policy(staff, sample_rate=0.0, errors="always")

    gateway.post(PREDICT, {"instances": [1.0]}, format="json")
    gateway.post(PREDICT, {"instances": ["one"]}, format="json")
    gateway.post("/v1/models/half_plus_two/versions/9:predict", {"instances": [1]}, format="json")
    sinks.flush()

    logged = PayloadLog.objects.order_by("id").values_list("http_status", "error_code", "reason")
    assert list(logged) == [(400, "invalid_argument", "error"), (404, "not_found", "error")]


def test_errors_never_logs_no_failed_exchange(gateway: APIClient, staff: APIClient) -> None:
    set_policy(staff, sample_rate=1.0, errors="never")

    gateway.post(PREDICT, {"instances": ["one"]}, format="json")
    sinks.flush()

    assert PayloadLog.objects.count() == 0


def test_directions_choose_which_payloads_are_kept(gateway: APIClient, staff: APIClient) -> None:
    set_policy(staff, sample_rate=1.0, directions=["response"])

    gateway.post(PREDICT, {"instances": [1.0]}, format="json")
    sinks.flush()

    log = PayloadLog.objects.get()
    assert (log.request, log.response) == (None, {"predictions": [3.5]})


def test_a_version_policy_wins_over_the_models(gateway: APIClient, staff: APIClient) -> None:
    set_policy(staff, sample_rate=0.0)
    set_policy(staff, "/v1/models/half_plus_two/versions/1/logging", sample_rate=1.0)

    gateway.post(PREDICT, {"instances": [1.0]}, format="json")  # version 2 answers
    gateway.post("/v1/models/half_plus_two/labels/stable:predict", {"instances": [1.0]})
    sinks.flush()

    assert list(PayloadLog.objects.values_list("model_version", "version_label")) == [(1, "stable")]


def test_a_larger_payload_is_truncated_with_a_marker_never_dropped(
    gateway: APIClient, staff: APIClient
) -> None:
    set_policy(staff, sample_rate=1.0, max_bytes=1024)
    values = [float(i) for i in range(400)]

    gateway.post(PREDICT, {"instances": values}, format="json")
    sinks.flush()

    log = PayloadLog.objects.get()
    full = json.dumps({"instances": values}, separators=(",", ":"))
    assert (log.request_truncated, log.request_bytes) == (True, len(full))
    assert log.request["truncated"] is True
    assert (log.request["bytes"], log.request["max_bytes"]) == (len(full), 1024)
    assert full.startswith(log.request["head"])
    assert len(json.dumps(log.request, separators=(",", ":"))) <= 1024
    assert log.response_truncated is True


def test_a_client_cannot_steer_sampling_with_its_own_request_id(
    gateway: APIClient, staff: APIClient
) -> None:
    set_policy(staff, sample_rate=0.5)
    # Written only when the test flushes, on the test's own connection (rolled back after).
    sinks.set_writers({"database": sinks.new_writer("database", background=False)})

    for _ in range(40):
        gateway.post(PREDICT, {"instances": [1.0]}, format="json", HTTP_X_REQUEST_ID="same-id")
    sinks.flush()

    # Sampled by the gateway's own id: one client id does not decide all 40 alike (the
    # chance that 40 fair coins agree is 2 in a trillion).
    assert 0 < PayloadLog.objects.filter(client_request_id="same-id").count() < 40


def test_sampling_is_decided_by_request_id_for_every_worker_alike() -> None:
    chosen = [policies.sampled(f"request-{i}", 0.1) for i in range(10_000)]

    assert 900 <= sum(chosen) <= 1100
    assert chosen == [policies.sampled(f"request-{i}", 0.1) for i in range(10_000)]
    assert policies.sampled("anything", 1.0) and not policies.sampled("anything", 0.0)


# --- redaction --------------------------------------------------------------------------------


def test_redacted_inputs_never_reach_any_sink(
    gateway: APIClient, staff: APIClient, every_sink: Path, receiver: CloudEventsReceiver, caplog
) -> None:
    everywhere = ["database", "file", "cloudevents"]
    set_policy(
        staff,
        "/v1/models/sentiment/logging",
        sample_rate=1.0,
        redact=["text", "text_bytes"],  # text_bytes echoes the input
        sinks=everywhere,
    )
    set_policy(staff, sample_rate=1.0, redact=["x"], sinks=everywhere)

    ok = gateway.post(SENTIMENT, {"instances": [SECRET]}, format="json")
    refused = gateway.post(PREDICT, {"instances": [SECRET]}, format="json")
    sinks.flush()

    assert ok.status_code == 200
    assert (refused.status_code, SECRET in refused.json()["error"]) == (400, True)
    rows = list(PayloadLog.objects.order_by("id"))
    events = receiver.wait_for(4)
    file_text = every_sink.read_text()
    database_text = json.dumps([[row.request, row.response] for row in rows])
    everything = [database_text, file_text, caplog.text]
    everything += [json.dumps(e.headers) + e.body.decode() for e in events]
    assert [SECRET in text for text in everything] == [False] * (3 + 4)
    assert len(file_text.splitlines()) == 2
    placeholder = rows[0].request["instances"]
    assert (placeholder["redacted"], placeholder["dtype"], placeholder["shape"]) == (
        True,
        "string",
        [1],
    )
    assert rows[0].response["predictions"][0]["label"] == "negative"
    assert rows[0].response["predictions"][0]["text_bytes"]["redacted"] is True
    assert rows[0].redacted == ["text", "text_bytes"]
    assert rows[1].response == {"error": REDACTED_MESSAGE, "code": "invalid_argument"}


def test_equal_redacted_values_have_equal_hashes(gateway: APIClient, staff: APIClient) -> None:
    set_policy(staff, sample_rate=1.0, redact=["x"])

    for values in ([1.0, 2.0], [1.0, 2.0], [3.0]):
        gateway.post(PREDICT, {"instances": values}, format="json")
    sinks.flush()

    hashes = [log.request["instances"]["hmac_sha256"] for log in PayloadLog.objects.order_by("id")]
    assert hashes[0] == hashes[1] != hashes[2]
    # y is not redacted
    assert PayloadLog.objects.order_by("id").first().response == {"predictions": [3.5, 4.0]}


# --- the file and CloudEvents sinks -------------------------------------------------------------


def test_the_file_sink_writes_one_json_line_per_exchange_and_rotates(
    gateway: APIClient, staff: APIClient, settings, every_sink: Path
) -> None:
    settings.PAYLOAD_LOG_FILE_MAX_BYTES = 1500
    settings.PAYLOAD_LOG_FILE_BACKUPS = 2
    sinks.set_writers({"file": sinks.new_writer("file", background=False)})
    set_policy(staff, sample_rate=1.0, sinks=["file"])

    for index in range(12):
        gateway.post(PREDICT, {"instances": [float(index)]}, format="json")
        sinks.flush()

    files = sorted(every_sink.parent.glob("payloads.jsonl*"))
    assert [path.name for path in files] == [
        "payloads.jsonl",
        "payloads.jsonl.1",
        "payloads.jsonl.2",
        "payloads.jsonl.lock",
    ]
    lines = [json.loads(line) for line in every_sink.read_text().splitlines()]
    assert all(path.stat().st_size <= 1500 for path in files)
    assert lines[-1]["request"] == {"instances": [11.0]}
    assert lines[-1]["response"] == {"predictions": [8.5]}


def test_cloudevents_carry_kserves_attributes(
    gateway: APIClient, staff: APIClient, every_sink: Path, receiver: CloudEventsReceiver
) -> None:
    set_policy(
        staff,
        "/v1/models/half_plus_two/labels/canary/logging",
        sample_rate=1,
        sinks=["cloudevents"],
    )

    answer = gateway.post(
        "/v1/models/half_plus_two/labels/canary:predict",
        {"instances": [1.0]},
        format="json",
        HTTP_X_REQUEST_ID="ce-1",
    )
    sinks.flush()

    request_event, response_event = sorted(receiver.wait_for(2), key=lambda e: e.headers["ce-type"])
    assert json.loads(request_event.body) == {"instances": [1.0]}
    assert json.loads(response_event.body) == {"predictions": [3.5]}
    expected = {
        "ce-specversion": "1.0",
        "ce-id": answer["X-Request-ID"],
        "ce-source": "tfserving-gateway",
        "ce-inferenceservicename": "half_plus_two",
        "ce-namespace": "default",
        "ce-component": "predictor",
        "ce-endpoint": "canary",
        "ce-metadata": "{}",
        "ce-modelversion": "2",
        "ce-httpstatus": "200",
        "content-type": "application/json",
    }
    for event, event_type in (
        (request_event, "org.kubeflow.serving.inference.request"),
        (response_event, "org.kubeflow.serving.inference.response"),
    ):
        assert event.headers.items() >= {**expected, "ce-type": event_type}.items()
        assert event.headers["ce-time"].startswith(
            str(AuditRecord.objects.get(method="predict").created_at.date())
        )
    assert "traceparent" not in request_event.headers  # tracing is off


def dropped(reason: str, sink: str = "cloudevents") -> float:
    from prometheus_client import REGISTRY

    return (
        REGISTRY.get_sample_value(
            "gateway_payload_log_dropped_total", {"sink": sink, "reason": reason}
        )
        or 0.0
    )


def test_a_sink_that_is_down_leaves_predictions_alone_and_counts_its_drops(
    gateway: APIClient, staff: APIClient, settings
) -> None:
    settings.PAYLOAD_CLOUDEVENTS_URL = f"http://127.0.0.1:{free_port()}/"  # nothing listens
    settings.PAYLOAD_SINK_RETRIES = 1
    sinks.set_writers(
        {name: sinks.new_writer(name, background=False) for name in ("database", "cloudevents")}
    )
    set_policy(staff, sample_rate=1.0, sinks=["database", "cloudevents"])
    before = dropped("failed")

    answers = [gateway.post(PREDICT, {"instances": [1.0]}, format="json") for _ in range(3)]
    sinks.flush()

    assert [a.json() for a in answers] == [{"predictions": [3.5]}] * 3
    assert dropped("failed") - before == 3
    assert PayloadLog.objects.count() == 3  # the database sink is unaffected


def test_a_full_queue_drops_and_counts_instead_of_waiting(
    gateway: APIClient, staff: APIClient, settings
) -> None:
    settings.PAYLOAD_QUEUE_BYTES = 1500  # room for two small records
    sinks.set_writers({"database": sinks.new_writer("database", background=False)})
    set_policy(staff, sample_rate=1.0)
    before = dropped("queue_full", sink="database")

    for _ in range(5):
        assert gateway.post(PREDICT, {"instances": [1.0]}, format="json").status_code == 200
    sinks.flush()

    assert dropped("queue_full", sink="database") - before == 3
    assert PayloadLog.objects.count() == 2


# --- reading logs back -----------------------------------------------------------------------


def test_staff_read_a_models_logs_filtered_and_paginated(
    gateway: APIClient, staff: APIClient
) -> None:
    set_policy(staff, sample_rate=1.0)
    for index in range(3):
        gateway.post(PREDICT, {"instances": [float(index)]}, format="json")
    gateway.post(PREDICT, {"instances": ["bad"]}, format="json")
    sinks.flush()

    first = staff.get("/v1/models/half_plus_two/logs", {"limit": 2, "status": "ok"}).json()
    second = staff.get(first["next"]).json()
    errors = staff.get("/v1/models/half_plus_two/logs", {"status": "error"}).json()

    assert [r["request"]["instances"] for r in first["results"]] == [[2.0], [1.0]]
    assert [r["request"]["instances"] for r in second["results"]] == [[0.0]]
    assert [r["http_status"] for r in errors["results"]] == [400]


def test_a_bad_filter_gets_a_400_naming_the_parameter(staff: APIClient) -> None:
    response = staff.get("/v1/models/half_plus_two/logs", {"since": "yesterday"})

    assert response.status_code == 400
    assert response.json()["error"].startswith("since: expected an ISO 8601 date")


def test_export_and_prune_commands(gateway: APIClient, staff: APIClient, capsysbinary) -> None:
    set_policy(staff, sample_rate=1.0)
    for index in range(3):
        gateway.post(PREDICT, {"instances": [float(index)]}, format="json")
    sinks.flush()
    PayloadLog.objects.filter(request={"instances": [0.0]}).update(
        created_at="2020-01-01T00:00:00Z"
    )

    call_command("export_payloads", "--model", "half_plus_two", "--since", "7d")
    exported = [json.loads(line) for line in capsysbinary.readouterr().out.splitlines()]
    call_command("prune_payloads", "--older-than", "30d")
    assert capsysbinary.readouterr().out == b"Deleted 1 logged exchanges older than 30 days.\n"

    assert [line["request"] for line in exported] == [{"instances": [1.0]}, {"instances": [2.0]}]
    assert exported[0]["response"] == {"predictions": [3.5]}
    assert list(PayloadLog.objects.values_list("request", flat=True).order_by("id")) == [
        {"instances": [1.0]},
        {"instances": [2.0]},
    ]


def test_the_policy_route_is_usable_from_the_browsable_api(staff: APIClient) -> None:
    set_policy(staff, sample_rate=0.25)

    page = staff.get(LOGGING, HTTP_ACCEPT="text/html")

    assert page.status_code == 200
    assert b"&quot;sample_rate&quot;: 0.25" in page.content
    assert b'name="_content"' in page.content  # the raw-data form to PUT a new policy


def test_a_failure_inside_payload_logging_never_changes_the_answer(
    gateway: APIClient, staff: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from predictions.payloads import capture

    def broken(*args: object) -> None:
        raise RuntimeError("serialisation failed")

    set_policy(staff, sample_rate=1.0)
    monkeypatch.setattr(capture, "build_record", broken)

    response = gateway.post(PREDICT, {"instances": [1.0]}, format="json")

    assert (response.status_code, response.json()) == (200, {"predictions": [3.5]})
    assert AuditRecord.objects.filter(method="predict", http_status=200).count() == 1
