"""Log lines carry the request id; LOG_FORMAT=json writes one JSON object per line."""

from __future__ import annotations

import logging

import orjson

from predictions.request_id import reset_request_id, set_request_id
from serving_project.log_format import JsonFormatter, RequestIdFilter


def make_record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("gateway.test", logging.WARNING, __file__, 1, message, (), None)
    record.__dict__.update(extra)
    RequestIdFilter().filter(record)
    return record


def test_json_lines_carry_the_current_request_id_and_extra_fields() -> None:
    token = set_request_id("req-9")
    try:
        record = make_record("model slow", model="iris")
    finally:
        reset_request_id(token)

    line = orjson.loads(JsonFormatter().format(record))

    assert line["message"] == "model slow"
    assert (line["level"], line["logger"]) == ("WARNING", "gateway.test")
    assert (line["request_id"], line["model"]) == ("req-9", "iris")


def test_outside_a_request_the_request_id_is_a_dash() -> None:
    assert make_record("startup").request_id == "-"


def access_record(**more_atoms: object) -> logging.LogRecord:
    """A gunicorn access-log record: the format string and the request's atoms."""
    atoms = {
        "h": "10.0.0.7",
        "m": "POST",
        "U": "/v1/models/iris:predict",
        "q": "",
        "s": "200",
        "B": 57,
        "M": 3,
        "a": "curl/8",
        "{x-request-id}o": "req-42",
        **more_atoms,
    }
    record = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, '%(h)s "%(m)s %(U)s" %(s)s', (atoms,), None
    )
    RequestIdFilter().filter(record)
    return record


def test_access_lines_take_the_request_id_from_the_response_header() -> None:
    assert access_record().request_id == "req-42"


def test_json_access_lines_carry_the_clients_own_request_id_when_it_sent_one() -> None:
    sent = orjson.loads(
        JsonFormatter().format(access_record(**{"{x-client-request-id}o": "client-7"}))
    )
    # gunicorn's atoms answer "-" for a header the response does not have.
    not_sent = orjson.loads(
        JsonFormatter().format(access_record(**{"{x-client-request-id}o": "-"}))
    )

    assert (sent["request_id"], sent["client_request_id"]) == ("req-42", "client-7")
    assert "client_request_id" not in not_sent


def test_json_access_lines_have_a_field_per_part_of_the_request() -> None:
    line = orjson.loads(JsonFormatter().format(access_record()))

    assert line["message"] == '10.0.0.7 "POST /v1/models/iris:predict" 200'
    assert {key: line[key] for key in ("request_id", "method", "path", "status")} == {
        "request_id": "req-42",
        "method": "POST",
        "path": "/v1/models/iris:predict",
        "status": "200",
    }
    assert (line["duration_ms"], line["response_bytes"], line["remote_address"]) == (
        3,
        57,
        "10.0.0.7",
    )
