"""Run the gateway for real: a fresh SQLite database, the demo user, gunicorn workers."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from serving_project.processes import ROOT, free_port, start_gunicorn, terminate, wait_for_http

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
        process = start_gunicorn(env, output=log_file)
    try:
        wait_for_http(f"http://{bind}/healthz", process)
        yield Gateway(url=f"http://{bind}", process=process, database=database, log=log, env=env)
    finally:
        terminate(process)
