"""Start and stop the local stack's processes: the model server, gunicorn, the proxy.

One launcher for ``manage.py runstack``, the tests and the benchmarks, so they all
start the stack the same way: the model server first, ready once its gRPC health
says SERVING (its initial models are loaded); gunicorn with the project's
gunicorn.conf.py, ready once an HTTP probe answers; in front of it, where Debian's
nginx is installed, the production buffering proxy (deploy/proxy/); all stopped with
SIGTERM (graceful), then SIGKILL if they do not go in time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
MODELS_CONFIG = ROOT / "models" / "models.config"
GUNICORN_CONFIG = ROOT / "serving_project" / "gunicorn.conf.py"
PROXY_SCRIPT = ROOT / "deploy" / "proxy" / "run-nginx.sh"
# Debian installs nginx in /usr/sbin, which an ordinary user's PATH may not list.
NGINX_SEARCH_PATH = os.pathsep.join(("/usr/local/sbin", "/usr/sbin", "/sbin"))
POLL_SECONDS = 0.1
STOP_TIMEOUT_SECONDS = 20.0

Output = int | IO[bytes] | None


class ProcessExited(RuntimeError):
    """A process the stack needs exited while it was starting."""

    def __init__(self, name: str, returncode: int) -> None:
        super().__init__(f"The {name} exited with code {returncode} while starting.")
        self.returncode = returncode


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class ModelServerProcess:
    port: int
    process: subprocess.Popen

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def start_model_server(
    port: int,
    args: Sequence[str] = (),
    *,
    env: Mapping[str, str],
    cwd: Path = ROOT,
    output: Output = None,
) -> subprocess.Popen:
    """``python -m modelserver --port=PORT ARGS`` (default: serve models/models.config)."""
    argv = list(args) or [f"--model_config_file={MODELS_CONFIG}"]
    return subprocess.Popen(
        [sys.executable, "-m", "modelserver", f"--port={port}", *argv],
        cwd=cwd,  # models.config holds paths relative to the repository root
        env=dict(env),
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        start_new_session=True,  # a Ctrl-C reaches only the launcher, which stops it in order
    )


def wait_until_serving(
    address: str,
    process: subprocess.Popen,
    timeout: float = 90.0,
    stop: threading.Event | None = None,
) -> bool:
    """Wait until the model server's health is SERVING; False if ``stop`` was set first."""
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)

        def serving() -> bool:
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
            except grpc.RpcError:
                return False  # not listening yet
            return reply.status == health_pb2.HealthCheckResponse.SERVING

        return _poll(serving, process, "model server", timeout, stop)


def _poll(
    ready: Callable[[], bool],
    process: subprocess.Popen,
    name: str,
    timeout: float,
    stop: threading.Event | None,
) -> bool:
    """Call ``ready`` until it says so (True), ``stop`` is set (False) or time runs out."""
    deadline = time.monotonic() + timeout
    stop = stop or threading.Event()
    while not stop.is_set():
        if process.poll() is not None:
            raise ProcessExited(name, process.returncode)
        if ready():
            return True
        if time.monotonic() > deadline:
            raise TimeoutError(f"The {name} was not ready after {timeout:.0f} s.")
        stop.wait(POLL_SECONDS)
    return False


def start_gunicorn(env: Mapping[str, str], *, output: Output = None) -> subprocess.Popen:
    """gunicorn with the project's config; it listens on GATEWAY_BIND from ``env``."""
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG), "serving_project.wsgi"],
        cwd=ROOT,
        env=dict(env),
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        start_new_session=True,
    )


def find_nginx(env: Mapping[str, str] = os.environ) -> str | None:
    """The nginx binary on PATH or in the sbin directories, with envsubst (which
    run-nginx.sh renders the template with); None when either is missing."""
    search = os.pathsep.join(filter(None, (env.get("PATH", ""), NGINX_SEARCH_PATH)))
    nginx = shutil.which("nginx", path=search)
    return nginx if nginx and shutil.which("envsubst", path=search) else None


def start_proxy(
    listen: str,
    upstream: str,
    state_dir: Path,
    *,
    nginx: str,
    env: Mapping[str, str],
    output: Output = None,
) -> subprocess.Popen:
    """The production proxy (deploy/proxy/run-nginx.sh, the same template) on ``listen``
    (host:port) in front of gunicorn at ``upstream``, as the current user, with its
    rendered config, pid file and spooled bodies in ``state_dir``."""
    path = os.pathsep.join((str(Path(nginx).parent), env.get("PATH", os.defpath)))
    proxy_env = {
        **env,
        "PATH": path,
        "PROXY_LISTEN_PORT": listen,
        "GATEWAY_UPSTREAM": upstream,
        "PROXY_STATE_DIR": str(state_dir),
        # Loopback upstream: nothing to resolve, and a local run is the edge.
        "PROXY_RESOLVER": "127.0.0.1",
        "PROXY_FORWARDED_PROTO": "$scheme",
    }
    return subprocess.Popen(
        ["sh", str(PROXY_SCRIPT)],
        cwd=ROOT,
        env=proxy_env,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        start_new_session=True,
    )


def wait_for_http(
    url: str,
    process: subprocess.Popen,
    timeout: float = 60.0,
    stop: threading.Event | None = None,
) -> bool:
    """Wait until ``url`` answers 200; False if ``stop`` was set first."""

    def answering() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    return _poll(answering, process, f"gateway at {url}", timeout, stop)


def terminate(process: subprocess.Popen, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM (graceful: in-flight calls finish), then SIGKILL after ``timeout``."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def model_server(
    args: Sequence[str] = (),
    port: int | None = None,
    cwd: Path = ROOT,
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[ModelServerProcess]:
    """Run the model server on a free port until the block ends (tests and benchmarks).

    With no ``args`` it serves ``models/models.config`` like the local run does.
    """
    port = port or free_port()
    environment = {
        **(os.environ if env is None else env),
        "PYTHONPATH": str(ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    with contextlib.ExitStack() as stack:
        output = stack.enter_context(open(log_path, "wb")) if log_path else subprocess.DEVNULL
        process = start_model_server(port, args, env=environment, cwd=cwd, output=output)
        try:
            wait_until_serving(f"127.0.0.1:{port}", process)
            yield ModelServerProcess(port=port, process=process)
        finally:
            terminate(process, timeout=15.0)
