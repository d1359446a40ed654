"""End to end over real HTTP: gunicorn workers in front of the real model server.

Proves what only a real deployment shows: a worker never loads TensorFlow, its
memory after 1,000 requests, and that asynchronously written audit records are
all committed when gunicorn stops.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.processes import ROOT, ModelServerProcess, free_port, stop

pytestmark = pytest.mark.slow

DEMO_PASSWORD = "gunicorn-test-password"
REQUESTS = 1_000


@dataclass(frozen=True)
class Gateway:
    url: str
    process: subprocess.Popen
    database: Path

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]


def gateway_env(database: Path, model_server_address: str, bind: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_ENV": "local",
        "DATABASE_URL": f"sqlite:///{database}",
        "DEMO_PASSWORD": DEMO_PASSWORD,
        "TFSERVING_ADDRESS": model_server_address,
        "GATEWAY_BIND": bind,
        "GUNICORN_WORKERS": "2",
        "LOG_LEVEL": "warning",
    }


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(url)


@pytest.fixture
def gunicorn_gateway(tmp_path: Path, modelserver_process: ModelServerProcess) -> Iterator[Gateway]:
    bind = f"127.0.0.1:{free_port()}"
    database = tmp_path / "gateway.sqlite3"
    env = gateway_env(database, modelserver_process.address, bind)
    for command in (["migrate", "--noinput"], ["create_demo_user"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "serving_project/gunicorn.conf.py",
            "serving_project.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "gunicorn.log", "wb"),  # noqa: SIM115
    )
    try:
        wait_for_http(f"http://{bind}/healthz", process)
        yield Gateway(url=f"http://{bind}", process=process, database=database)
    finally:
        stop(process)


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
