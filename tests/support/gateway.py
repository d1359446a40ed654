"""Run the gateway for real: a fresh SQLite database, the demo user, gunicorn workers."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.processes import ROOT, free_port, stop

DEMO_PASSWORD = "gunicorn-test-password"
STAFF_USERNAME = "operator"
STAFF_PASSWORD = "operator-test-password"


@dataclass(frozen=True)
class Gateway:
    url: str
    process: subprocess.Popen
    database: Path
    log: Path  # gunicorn's output: its own lines, the access log, the application's logs
    env: Mapping[str, str]

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]


def gateway_env(
    database: Path, model_server_address: str, bind: str, **overrides: str
) -> dict[str, str]:
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
        **overrides,
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


def manage(env: Mapping[str, str], *args: str) -> str:
    """Runs a management command with ``env``; its standard output."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=dict(env),
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stdout


@contextlib.contextmanager
def gunicorn_gateway(
    directory: Path, model_server_address: str, *, staff: bool = False, **overrides: str
) -> Iterator[Gateway]:
    """gunicorn serving the gateway on a free port, with a migrated database in ``directory``.

    The demo user (password DEMO_PASSWORD) has grants for the catalogue models; with
    ``staff`` a superuser STAFF_USERNAME exists too. ``overrides`` are environment
    variables (e.g. GUNICORN_WORKERS="2", LOG_FORMAT="json").
    """
    bind = f"127.0.0.1:{free_port()}"
    database = directory / "gateway.sqlite3"
    env = gateway_env(database, model_server_address, bind, **overrides)
    manage(env, "migrate", "--noinput")
    manage(env, "create_demo_user")
    if staff:
        manage(
            {**env, "DJANGO_SUPERUSER_PASSWORD": STAFF_PASSWORD},
            "createsuperuser",
            "--noinput",
            "--username",
            STAFF_USERNAME,
            "--email",
            "operator@example.com",
        )
    log = directory / "gunicorn.log"
    with open(log, "wb") as log_file:
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
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_http(f"http://{bind}/healthz", process)
        yield Gateway(url=f"http://{bind}", process=process, database=database, log=log, env=env)
    finally:
        stop(process)
