"""End to end over real HTTP: gunicorn workers in front of the real model server.

Proves what only a real deployment shows: a worker never loads TensorFlow, its
memory after 1,000 requests, and that asynchronously written audit records are
all committed when gunicorn stops.
"""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.gateway import DEMO_PASSWORD, Gateway
from tests.support.gateway import gunicorn_gateway as running_gateway
from tests.support.processes import ModelServerProcess

pytestmark = pytest.mark.slow

REQUESTS = 1_000


@pytest.fixture
def gunicorn_gateway(tmp_path: Path, modelserver_process: ModelServerProcess) -> Iterator[Gateway]:
    with running_gateway(tmp_path, modelserver_process.address) as gateway:
        yield gateway


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def test_workers_serve_predictions_without_tensorflow_and_audit_every_request(
    gunicorn_gateway: Gateway,
) -> None:
    with httpx.Client(base_url=gunicorn_gateway.url, timeout=10) as client:
        token = client.post("/v1/auth/token", data={"username": "demo", "password": DEMO_PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access']}"}
        answers = [
            client.post(
                "/v1/models/half_plus_two:predict",
                json={"instances": [1.0, 2.0, 5.0]},
                headers=headers,
            )
            for _ in range(REQUESTS)
        ]
        workers = gunicorn_gateway.worker_pids()
        maps = {pid: Path(f"/proc/{pid}/maps").read_text() for pid in workers}
        rss = {pid: rss_kib(pid) for pid in workers}

    assert {answer.status_code for answer in answers} == {200}
    assert answers[-1].json() == {"predictions": [3.5, 4.0, 5.5]}
    assert len(workers) == 2
    for pid, mapped in maps.items():
        # The check can see extension modules: gRPC's is loaded in every worker...
        assert "cygrpc" in mapped, pid
        # ...and TensorFlow's shared libraries (libtensorflow*, _pywrap_tensorflow*) are not.
        assert "tensorflow" not in mapped, pid
    print(f"\nworker RSS after {REQUESTS} requests (KiB): {rss}")
    assert max(rss.values()) < 120 * 1024

    gunicorn_gateway.process.send_signal(signal.SIGTERM)
    assert gunicorn_gateway.process.wait(30) == 0
    with sqlite3.connect(gunicorn_gateway.database) as db:
        [(records,)] = db.execute("SELECT COUNT(*) FROM predictions_auditrecord").fetchall()
    assert records == REQUESTS + 1  # every prediction and the token request
