"""gunicorn.conf.py's hooks: the access logger's on-demand atoms read exactly what gunicorn's
own atoms hold, and the master freezes what it loaded before forking."""

from __future__ import annotations

import base64
import gc
import json
import logging
import runpy
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger, SafeAtoms

from serving_project.access_log import AccessLogger, LazyAtoms
from serving_project.log_format import JsonFormatter

GUNICORN_CONF = Path(__file__).resolve().parents[2] / "serving_project" / "gunicorn.conf.py"

RESPONSE = SimpleNamespace(
    status="201 Created",
    sent=1234,
    headers=[
        ("Content-Type", "application/json"),
        ("X-Request-ID", "0123abcd"),
        ("X-Quoted", 'say "hi"'),
        ("X-Twice", "first"),
        ("x-twice", "second"),
    ],
)
REQUEST = SimpleNamespace(
    headers=[
        ("HOST", "gateway.example"),
        ("AUTHORIZATION", "Basic " + base64.b64encode(b"alice:secret").decode()),
        ("X-REQUEST-ID", "client-1"),
    ]
)
ENVIRON = {
    "REMOTE_ADDR": "10.0.0.7",
    "REQUEST_METHOD": "POST",
    "RAW_URI": "/v1/models/m:predict?x=1",
    "PATH_INFO": "/v1/models/m:predict",
    "QUERY_STRING": "x=1",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "HTTP_USER_AGENT": 'curl/8 "quoted"',
    "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"alice:secret").decode(),
}
TIME = timedelta(seconds=2, microseconds=345_678)
KEYS = [
    *"hlurbsmUqHbBfaTDMLp",
    "{x-request-id}o",
    "{X-Request-Id}o",
    "{x-quoted}o",
    "{x-twice}o",
    "{host}i",
    "{x-request-id}i",
    "{remote_addr}e",
    "{path_info}e",
    "{missing}o",
    "{missing}i",
    "{missing}e",
    "Z",
    "{x}z",
]


@pytest.fixture
def logger() -> Logger:
    return Logger(Config())


@pytest.mark.parametrize("key", KEYS)
def test_each_atom_is_gunicorns(logger: Logger, key: str) -> None:
    gunicorns = SafeAtoms(logger.atoms(RESPONSE, REQUEST, ENVIRON, TIME))
    ours = LazyAtoms(logger, RESPONSE, REQUEST, ENVIRON, TIME)

    if key == "t":  # the time of formatting: the same format, maybe a second apart
        assert ours[key][0] == "[" and len(ours[key]) == len(gunicorns[key])
        return
    assert ours[key] == gunicorns[key]


def test_the_projects_format_and_json_fields_read_the_same(logger: Logger) -> None:
    conf = runpy.run_path(str(GUNICORN_CONF))
    gunicorns = SafeAtoms(logger.atoms(RESPONSE, REQUEST, ENVIRON, TIME))
    ours = LazyAtoms(logger, RESPONSE, REQUEST, ENVIRON, TIME)

    def json_line(atoms: object) -> dict:
        record = logging.LogRecord("gunicorn.access", 20, __file__, 1, "%(h)s", (atoms,), None)
        entry = JsonFormatter().format(record)
        return {k: v for k, v in json.loads(entry).items() if k != "time"}

    assert conf["logger_class"] == "serving_project.access_log.AccessLogger"
    assert conf["access_log_format"] % ours == conf["access_log_format"] % gunicorns
    assert json_line(ours) == json_line(gunicorns)


def test_the_logger_writes_the_line(logger: Logger, caplog: pytest.LogCaptureFixture) -> None:
    config = Config()
    config.set("accesslog", "-")
    access = AccessLogger(config)
    access.access_log.propagate = True

    with caplog.at_level(logging.INFO, logger="gunicorn.access"):
        access.access(RESPONSE, REQUEST, ENVIRON, TIME)

    assert "10.0.0.7 - alice [" in caplog.text
    assert '"POST /v1/models/m:predict?x=1 HTTP/1.1" 201 1234' in caplog.text


def test_the_master_freezes_what_it_loaded_before_each_fork() -> None:
    # gunicorn.conf.py's pre_fork: a worker's garbage collections skip the objects it
    # inherits (the measurement is in bench/README.md).
    conf = runpy.run_path(str(GUNICORN_CONF))
    gc.unfreeze()
    try:
        conf["pre_fork"](server=None, worker=None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
