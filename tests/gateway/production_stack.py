"""The production engines for end-to-end tests: PostgreSQL, Redis and gunicorn, for real.

A throwaway PostgreSQL database (created and dropped by the test), a Redis database
number of its own (flushed before and after), and gunicorn running the gateway with
production settings. Tests using them are skipped, with the reason, where the
servers are not running; `.ci/run` starts both.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from serving_project.processes import wait_for_http
from tests.support.processes import ROOT, free_port, stop

POSTGRES_SERVER_URL = os.environ.get(
    "TEST_POSTGRES_SERVER_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
REDIS_SERVER_URL = os.environ.get("TEST_REDIS_SERVER_URL", "redis://127.0.0.1:6379")
SECRET_KEY = "e2e-only-0b6c1f0e9a8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0"
DEMO_PASSWORD = "e2e-demo-password-7f3a"
# Production settings redirect plain HTTP to HTTPS unless a TLS proxy says it was HTTPS.
BEHIND_TLS = {"X-Forwarded-Proto": "https"}


@contextlib.contextmanager
def throwaway_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; yields its URL and drops it afterwards."""
    name = f"gateway_e2e_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_SERVER_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_SERVER_URL}: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield POSTGRES_SERVER_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def flushed_redis_database(number: int) -> Iterator[str]:
    """Redis database ``number``, empty before and after; yields its URL."""
    url = f"{REDIS_SERVER_URL}/{number}"
    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.flushdb()
    except redis.ConnectionError as error:
        pytest.skip(f"Redis not reachable at {REDIS_SERVER_URL}: {error}")
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def production_env(
    database_url: str, redis_url: str, model_server_address: str, **overrides: str
) -> dict[str, str]:
    """The gateway's environment: production mode, the real engines, two workers."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_ENV": "production",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TFSERVING_ADDRESS": model_server_address,
        "DEMO_PASSWORD": DEMO_PASSWORD,
        "GUNICORN_WORKERS": "2",
        "LOG_LEVEL": "warning",
        # Plain lines: the tests read the access log file (ACCESS_LOG_FORMAT).
        "LOG_FORMAT": "text",
        **overrides,
    }


@dataclass(frozen=True)
class GunicornGateway:
    address: str  # host:port
    process: subprocess.Popen
    access_log: Path

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]


# The worker's process id first, so a test can tell which worker answered; then the id
# the test sent (the client's own, echoed as X-Client-Request-ID).
ACCESS_LOG_FORMAT = "%(p)s %(s)s %({x-client-request-id}o)s"


@contextlib.contextmanager
def gunicorn_gateway(
    env: Mapping[str, str], log_dir: Path, args: Sequence[str] = ()
) -> Iterator[GunicornGateway]:
    """gunicorn with the project's configuration on a free port, until the block ends."""
    address = f"127.0.0.1:{free_port()}"
    access_log = log_dir / f"access-{address.rsplit(':', 1)[1]}.log"
    with open(log_dir / "gunicorn.log", "ab") as errors:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "serving_project/gunicorn.conf.py",
                f"--bind={address}",
                f"--access-logfile={access_log}",
                f"--access-logformat={ACCESS_LOG_FORMAT}",
                *args,
                "serving_project.wsgi",
            ],
            cwd=ROOT,
            env=dict(env),
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    try:
        wait_for_http(f"http://{address}/healthz", process)
        gateway = GunicornGateway(address=address, process=process, access_log=access_log)
        # One booted worker answers /healthz; tests that compare worker pids need all.
        wait_for_workers(gateway, int(env.get("GUNICORN_WORKERS", "1")))
        yield gateway
    finally:
        stop(process)


def wait_for_workers(gateway: GunicornGateway, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while len(gateway.worker_pids()) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"gunicorn has not started {count} workers in {timeout} s")
        time.sleep(0.05)


def access_log_pids(gateway: GunicornGateway) -> dict[str, tuple[int, int]]:
    """the client's request id -> (worker pid, status), from the access log."""
    served = {}
    for line in gateway.access_log.read_text().splitlines():
        pid, status, request_id = line.split()
        served[request_id] = (int(pid.strip("<>")), int(status))
    return served
