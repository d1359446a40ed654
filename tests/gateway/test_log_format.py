"""Log lines carry the request id; LOG_FORMAT=json writes one JSON object per line."""

from __future__ import annotations

import logging

import orjson

from predictions.request_context import reset_request_id, set_request_id
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
