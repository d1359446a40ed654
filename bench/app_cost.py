"""The application's own CPU per request, without gunicorn: the WSGI app called in-process.

Under gunicorn, a worker's CPU per request also holds HTTP parsing, its threads'
hand-overs and whatever else the machine does meanwhile; between rounds on a shared
2-core machine it moves by 10-20%, more than most single changes save. Here one
process per settings module builds the WSGI application (Django, DRF, the
middleware, the real gRPC call to the model server, the audit writer thread) and
calls it directly, on one thread, with the request as gunicorn would pass it.
Its CPU time (every thread of the process) is measured over blocks of requests,
and the least per-request CPU of the blocks is kept: other load on the machine
only ever adds to a block, so the quietest block is the closest to the cost itself.

The gateway's predict (JWT) and the bare DRF view (bench/bare_drf_settings.py) are
measured this way side by side, so the framework ratio can be read without gunicorn.
Run by ``python -m bench`` (the budget table's in-process row) or alone:
``python -m bench.app_cost`` prints both figures.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

BLOCKS = 12
WARMUP_REQUESTS = 300
_RESULT = "app-cost:"


@dataclass(frozen=True)
class AppCost:
    name: str
    cpu_ms: float  # the least CPU per request over the blocks
    wall_ms: float  # the least wall time per request over the blocks
    requests: int


def measure(
    name: str, env: Mapping[str, str], path: str, token: str | None, requests: int
) -> AppCost:
    """Run a child process with ``env`` (its DJANGO_SETTINGS_MODULE) that POSTs the
    benchmark's predict body to ``path`` ``requests`` times."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.app_cost", "--child", path, token or "", str(requests)],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(_RESULT)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"app cost ({name}) failed:\n{done.stderr[-3000:]}")
    cpu_ms, wall_ms = (float(value) for value in lines[-1].split()[1:3])
    return AppCost(name, cpu_ms, wall_ms, requests)


def _environ(path: str, body: bytes, token: str) -> dict:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "RAW_URI": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return environ


def _child(path: str, token: str, requests: int) -> None:
    from bench.gateway_bench import EXPECTED, INPUT
    from serving_project.wsgi import application

    body = json.dumps({"instances": INPUT}).encode()
    statuses: list[str] = []

    def start_response(status: str, headers: object, exc_info: object = None) -> None:
        statuses.append(status)

    def one() -> bytes:
        answer = application(_environ(path, body, token), start_response)
        try:
            return b"".join(answer)
        finally:
            getattr(answer, "close", lambda: None)()

    first = one()
    if not statuses[-1].startswith("200") or json.loads(first) != {"predictions": EXPECTED}:
        raise SystemExit(f"{path} answered {statuses[-1]}: {first[:300]!r}")
    for _ in range(WARMUP_REQUESTS):
        one()
    per_block = max(1, requests // BLOCKS)
    cpu, wall = [], []
    for _ in range(BLOCKS):
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        for _ in range(per_block):
            one()
        cpu.append((time.process_time() - cpu_start) / per_block * 1e3)
        wall.append((time.perf_counter() - wall_start) / per_block * 1e3)
    print(f"{_RESULT} {min(cpu):.4f} {min(wall):.4f}", flush=True)


def run_standalone(requests: int, log: Callable[[str], None] = print) -> list[AppCost]:
    """Model server, database and token made here; the gateway and the bare view measured."""
    import contextlib
    import tempfile
    from pathlib import Path

    from bench import stack
    from bench.gateway_bench import BARE_DRF, BARE_DRF_PATH, PREDICT_PATH
    from serving_project.processes import model_server

    with contextlib.ExitStack() as cleanup:
        workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="app-cost-")))
        server = cleanup.enter_context(model_server(log_path=workdir / "modelserver.log"))
        password = stack.new_secret()
        env = stack.gateway_environment(workdir, server.address, password, stack.new_secret())
        stack.prepare_database(env)
        gateway = cleanup.enter_context(
            stack.running_gateway(env, "token", workdir / "gunicorn.log")
        )
        token = stack.obtain_token(gateway, password)
        return compare(env, token, requests, BARE_DRF, BARE_DRF_PATH, PREDICT_PATH, log)


def compare(
    env: Mapping[str, str],
    token: str,
    requests: int,
    bare_name: str,
    bare_path: str,
    predict_path: str,
    log: Callable[[str], None] = print,
) -> list[AppCost]:
    """The gateway's predict and the bare DRF view, in-process, alternating twice."""
    from bench.stack import BARE_DRF_SETTINGS

    results: dict[str, list[AppCost]] = {}
    for _ in range(2):
        for name, settings, path, jwt in (
            ("gateway", "serving_project.settings", predict_path, token),
            (bare_name, BARE_DRF_SETTINGS, bare_path, None),
        ):
            cost = measure(name, {**env, "DJANGO_SETTINGS_MODULE": settings}, path, jwt, requests)
            log(f"  in-process {name}: {cost.cpu_ms:.3f} ms CPU, {cost.wall_ms:.3f} ms wall")
            results.setdefault(name, []).append(cost)
    return [min(costs, key=lambda cost: cost.cpu_ms) for costs in results.values()]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serving_project.settings")
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        for cost in run_standalone(int(sys.argv[1]) if len(sys.argv) > 1 else 4800):
            print(f"{cost.name}: {cost.cpu_ms:.3f} ms CPU per request (least of {BLOCKS} blocks)")
