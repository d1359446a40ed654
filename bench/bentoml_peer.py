"""BentoML as a peer: the same SavedModel served by BentoML itself, measured in the same run.

BentoML is not one of the project's requirements. The benchmark installs it into an
environment of its own (``.venv-bentoml`` at the repository root, reused by later
runs), which borrows TensorFlow and numpy from the project's environment instead of
downloading them again (a ``.pth`` file after its own packages, so BentoML's own
dependencies come first). ``bench/bentoml_service.py`` serves ``half_plus_two``
version 2 with the gateway's predict body and answer; BentoML runs it with 2 workers,
as the gateway runs 2 gunicorn workers. Where any step fails (no registry, an
incompatible release), the peer is skipped and the reason is recorded.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.load import HttpRequest, HttpTarget
from bench.stack import ROOT, exchange
from serving_project.processes import free_port, terminate

BENTOML_REQUIREMENT = "bentoml==1.4.40"
ENVIRONMENT = ROOT / ".venv-bentoml"
SERVICE = "bench.bentoml_service:HalfPlusTwo"
WORKERS = 2
START_TIMEOUT_SECONDS = 180.0
INSTALL_TIMEOUT_SECONDS = 900.0
NAME = "BentoML"


class PeerUnavailable(Exception):
    """BentoML could not be installed or started here; the message says why."""


@dataclass(frozen=True)
class RunningPeer:
    target: HttpTarget
    pid: int  # BentoML's main process (its workers are its children)
    version: str


def _python() -> Path:
    return ENVIRONMENT / "bin" / "python"


def _run(command: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def ensure_environment() -> str:
    """The BentoML environment, made if missing; returns BentoML's version."""
    python = _python()
    try:
        if not python.exists():
            made = _run([sys._base_executable, "-m", "venv", str(ENVIRONMENT)], 120)
            if made.returncode != 0:
                raise PeerUnavailable(f"python -m venv failed: {made.stderr.strip()[-300:]}")
        check = _run([str(python), "-c", "import bentoml; print(bentoml.__version__)"], 120)
        if check.returncode != 0 or check.stdout.strip() != BENTOML_REQUIREMENT.split("==")[1]:
            installed = _run(
                [str(python), "-m", "pip", "install", "--quiet", BENTOML_REQUIREMENT],
                INSTALL_TIMEOUT_SECONDS,
            )
            if installed.returncode != 0:
                raise PeerUnavailable(
                    f"pip install {BENTOML_REQUIREMENT} failed: "
                    + installed.stderr.strip().splitlines()[-1][:300]
                )
        site = _run([str(python), "-c", "import site; print(site.getsitepackages()[0])"], 60)
        borrowed = Path(site.stdout.strip()) / "zz_project_packages.pth"
        borrowed.write_text(sysconfig.get_paths()["purelib"] + "\n")
        check = _run(
            [str(python), "-c", "import bentoml, tensorflow; print(bentoml.__version__)"], 300
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PeerUnavailable(f"{type(error).__name__}: {error}") from error
    if check.returncode != 0:
        raise PeerUnavailable(
            "bentoml and tensorflow do not import together: "
            + (check.stderr.strip().splitlines() or ["?"])[-1][:300]
        )
    return check.stdout.strip()


@contextlib.contextmanager
def running(body: bytes, log_path: Path, home: Path) -> Iterator[RunningPeer]:
    """BentoML serving the service on a free port until the block ends; raises
    PeerUnavailable if it cannot be installed or does not answer ``body`` in time."""
    version = ensure_environment()
    host, port = "127.0.0.1", free_port()
    headers = {"Content-Type": "application/json"}
    request = HttpRequest(host, port, "POST", "/predict", headers, body)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BENTOML_HOME": str(home),
        "BENTOML_DO_NOT_TRACK": "True",
        "BENCH_BENTOML_WORKERS": str(WORKERS),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    command = [str(_python()), "-m", "bentoml", "serve", SERVICE, "--host", host]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while True:
                if process.poll() is not None:
                    raise PeerUnavailable(f"bentoml serve exited with {process.returncode}")
                try:
                    status, answer = exchange(request)
                except OSError:
                    status, answer = 0, b""
                if status == 200:
                    break
                if time.monotonic() > deadline:
                    raise PeerUnavailable(
                        f"bentoml serve not answering after {START_TIMEOUT_SECONDS:.0f} s"
                    )
                time.sleep(0.2)
            yield RunningPeer(HttpTarget(NAME, request, expected_body=answer), process.pid, version)
        finally:
            terminate(process)
