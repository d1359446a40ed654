"""Through real gunicorn workers: after hostile requests, every later prediction is audited.

On SQLite always; on PostgreSQL too when DATABASE_URL names one (make test-postgres), in a
database of its own next to it, since a NUL character only breaks PostgreSQL's writes.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from tests.support.gateway import DEMO_PASSWORD, Gateway
from tests.support.gateway import gunicorn_gateway as running_gateway
from tests.support.processes import ModelServerProcess

PREDICT = "/v1/models/half_plus_two:predict"
PREDICTIONS = 200
METRICS_TOKEN = "hostile-test-metrics"


POSTGRES_URL = os.environ.get("DATABASE_URL", "")
DATABASES = ["sqlite"] + (["postgres"] if POSTGRES_URL.startswith("postgres") else [])


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.sqlite3'}"
        return
    server, name = POSTGRES_URL.rsplit("/", 1)
    name = f"{name}_hostile_e2e"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def gunicorn_gateway(
    tmp_path: Path, modelserver_process: ModelServerProcess, database_url: str
) -> Iterator[Gateway]:
    with running_gateway(
        tmp_path,
        modelserver_process.address,
        METRICS_TOKEN=METRICS_TOKEN,
        DATABASE_URL=database_url,
    ) as gateway:
        yield gateway


def count_records(database_url: str, where: str = "TRUE") -> int:
    query = f"SELECT COUNT(*) FROM predictions_auditrecord WHERE {where}"
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            return db.execute(query).fetchone()[0]
    with psycopg.connect(database_url) as db:
        return db.execute(query).fetchone()[0]


def raw_request(url: str, request: bytes) -> bytes:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_hostile_requests_do_not_stop_the_audit_trail(
    gunicorn_gateway: Gateway, database_url: str
) -> None:
    url = gunicorn_gateway.url
    huge_length = raw_request(
        url,
        f"POST {PREDICT} HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        "Content-Length: 99999999999999999999\r\nConnection: close\r\n\r\n{}".encode(),
    )
    with httpx.Client(base_url=url, timeout=10) as client:
        token = client.post("/v1/auth/token", data={"username": "demo", "password": DEMO_PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access']}"}
        hostile = [
            client.post("/v1/models/a%00b:predict", json={"instances": [1.0]}),
            client.post("/v1/models/a%00b:predict", json={"instances": [1.0]}, headers=headers),
            client.post(
                PREDICT, json={"signature_name": "a\x00b", "instances": [1.0]}, headers=headers
            ),
            client.post(
                PREDICT,
                content=b'{"signature_name": "\\ud800", "instances": [1.0]}',
                headers={**headers, "Content-Type": "application/json"},
            ),
        ]
        answers = [
            client.post(
                PREDICT,
                json={"instances": [1.0]},
                headers={**headers, "X-Request-ID": f"after-hostile-{index}"},
            )
            for index in range(PREDICTIONS)
        ]
        ready = client.get("/readyz")
        metrics = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})

    # The gateway's size limit answers before authentication; the request is audited.
    assert huge_length.split(b"\r\n", 1)[0] == b"HTTP/1.1 400 Bad Request"
    assert all(answer.status_code >= 400 for answer in hostile)
    assert {answer.status_code for answer in answers} == {200}
    gunicorn_gateway.process.send_signal(signal.SIGTERM)
    assert gunicorn_gateway.process.wait(30) == 0
    audited = count_records(database_url, "client_request_id LIKE 'after-hostile-%'")
    total = count_records(database_url)
    print(f"\naudited after the hostile requests: {audited} of {PREDICTIONS}; {total} records")
    assert audited == PREDICTIONS
    assert total == PREDICTIONS + len(hostile) + 2  # the token request and the huge length
    assert ready.json() == {"status": "ready"}
    assert 'gateway_audit_records_dropped_total{reason="refused"}' not in metrics.text
