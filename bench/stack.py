"""The system under test: the gateway under gunicorn, in front of the embedded model server.

Everything runs from a temporary directory: a fresh SQLite database (migrated,
with the demo user and its grants), gunicorn logs, the model server log. The
gateway runs as deployed (DJANGO_ENV=production, DEBUG off, the project's
gunicorn.conf.py), except that TLS redirects are off (the bench speaks plain
HTTP on loopback) and tokens live for an hour (a bench run outlasts the default
five minutes).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from bench.load import HttpRequest
from serving_project.processes import free_port, terminate

ROOT = Path(__file__).resolve().parents[1]
GUNICORN_CONFIG = ROOT / "serving_project" / "gunicorn.conf.py"
DEMO_USER = "demo"
START_TIMEOUT_SECONDS = 60.0
# A connection attempt to a port nobody listens on yet fails at once; between
# attempts, wait this long (the start-up time is measured to within it).
POLL_SECONDS = 0.005
# The project's settings without the audit middleware: the "audit off" baseline.
AUDIT_OFF_SETTINGS = "bench.gateway_settings"
# A bare DRF POST view under the same gunicorn settings: the framework's own cost.
BARE_DRF_SETTINGS = "bench.bare_drf_settings"


def gateway_environment(
    workdir: Path, model_server_address: str, password: str, secret_key: str
) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "serving_project.settings",
        "DJANGO_ENV": "production",
        "DJANGO_SECRET_KEY": secret_key,
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": f"sqlite:///{workdir / 'gateway.sqlite3'}",
        "TFSERVING_ADDRESS": model_server_address,
        "JWT_ACCESS_TOKEN_SECONDS": "3600",
        "DEMO_PASSWORD": password,
    }


def prepare_database(env: Mapping[str, str]) -> None:
    """Migrate the fresh database and create the demo user with grants for every model."""
    for command in (["migrate", "--noinput"], ["create_demo_user", "--username", DEMO_USER]):
        done = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=dict(env),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(command)} failed:\n{done.stderr[-3000:]}")


@dataclass(frozen=True)
class Gateway:
    name: str
    host: str
    port: int
    process: subprocess.Popen
    # From starting the gunicorn process to the first 2xx answer to the probe request.
    start_seconds: float

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def worker_pids(self) -> list[int]:
        """gunicorn's workers are the master's children."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(child) for child in children.split()]


def exchange(request: HttpRequest, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send one request on a new connection; (status, body). Raises OSError if none."""
    with socket.create_connection((request.host, request.port), timeout=timeout) as sock:
        sock.sendall(replace(request, keep_alive=False).encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    head, _, body = response.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 "):
        raise OSError(f"not an HTTP response: {response[:100]!r}")
    return int(head[9:12]), body


@contextlib.contextmanager
def running_gateway(
    env: Mapping[str, str],
    name: str,
    log_path: Path,
    probe_path: str = "/healthz",
    probe_headers: Mapping[str, str] | None = None,
    probe_body: bytes | None = None,
) -> Iterator[Gateway]:
    """Start gunicorn on a free port; ready once a request to ``probe_path`` (a POST if
    there is a body) gets a 2xx. Stopped (SIGTERM, graceful) when the block ends."""
    host, port = "127.0.0.1", free_port()
    method = "GET" if probe_body is None else "POST"
    request = HttpRequest(host, port, method, probe_path, probe_headers or {}, probe_body or b"")
    with open(log_path, "ab") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG), "serving_project.wsgi"],
            cwd=ROOT,
            env={**env, "GATEWAY_BIND": f"{host}:{port}"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = started + START_TIMEOUT_SECONDS
            while True:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"gunicorn ({name}) exited with {process.returncode}:\n{_tail(log_path)}"
                    )
                try:
                    status, body = exchange(request)
                except OSError:
                    status, body = 0, b""
                if 200 <= status < 300:
                    break
                if status and status != 503:
                    raise RuntimeError(f"gunicorn ({name}) answered {status}: {body[:300]!r}")
                if time.perf_counter() > deadline:
                    raise TimeoutError(
                        f"gunicorn ({name}) not answering after {START_TIMEOUT_SECONDS} s:\n"
                        + _tail(log_path)
                    )
                time.sleep(POLL_SECONDS)
            yield Gateway(name, host, port, process, time.perf_counter() - started)
        finally:
            terminate(process)


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def obtain_token(gateway: Gateway, password: str) -> str:
    body = json.dumps({"username": DEMO_USER, "password": password}).encode()
    headers = {"Content-Type": "application/json"}
    status, answer = exchange(
        HttpRequest(gateway.host, gateway.port, "POST", "/v1/auth/token", headers, body)
    )
    if status != 200:
        raise RuntimeError(f"token request answered {status}: {answer[:300]!r}")
    return json.loads(answer)["access"]


def new_secret() -> str:
    return secrets.token_urlsafe(48)


def rss_kib(pid: int) -> int:
    match = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    if match is None:
        raise RuntimeError(f"no VmRSS for process {pid}")
    return int(match.group(1))


def mapped_files(pid: int, containing: str) -> list[str]:
    """Files mapped into the process whose path contains ``containing`` (shared libraries
    show here once loaded, whoever loaded them)."""
    paths = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and containing in parts[5]:
            paths.add(parts[5])
    return sorted(paths)
