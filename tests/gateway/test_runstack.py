"""manage.py runstack: model server, gunicorn, nginx; stops all on SIGTERM; fails if one dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serving_project.processes import find_nginx, wait_for_http
from tests.support.gateway import gateway_env
from tests.support.processes import ROOT, free_port, stop

pytestmark = pytest.mark.slow


def children_of(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except FileNotFoundError:
        return False
    return state != "Z"


RUNSTACK_METRICS_TOKEN = "runstack-metrics-token"


@pytest.fixture
def runstack(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, str, str]]:
    """runstack on free ports; yields the process, its URL and what it printed up to
    its "ready" banner (read before the test acts, since the gateway can answer before
    runstack's own health poll has seen it and printed the banner)."""
    config = tmp_path / "models.config"
    config.write_text(
        'model_config_list { config { name: "half_plus_two" '
        f'base_path: "{ROOT / "models" / "half_plus_two"}" model_platform: "tensorflow" }} }}'
    )
    bind = f"127.0.0.1:{free_port()}"
    env = gateway_env(tmp_path / "db.sqlite3", "unused", bind)
    env["MODEL_CONFIG_FILE"] = str(config)
    env["METRICS_TOKEN"] = RUNSTACK_METRICS_TOKEN  # /readyz shows the models to it
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runstack",
            f"--model-server-port={free_port()}",
            f"--bind={bind}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_http(f"http://{bind}/readyz", process, timeout=120)
        startup = []
        for line in process.stdout:  # ends at EOF if runstack exits without the banner
            startup.append(line)
            if "Gateway ready at" in line:
                break
        yield process, f"http://{bind}", "".join(startup)
    finally:
        stop(process)


def test_runstack_serves_until_sigterm_then_stops_both(
    runstack: tuple[subprocess.Popen, str, str],
) -> None:
    process, url, startup = runstack
    children = children_of(process.pid)

    ready = httpx.get(
        f"{url}/readyz", headers={"Authorization": f"Bearer {RUNSTACK_METRICS_TOKEN}"}
    )
    process.send_signal(signal.SIGTERM)
    returncode = process.wait(60)

    assert ready.json()["models"] == {"half_plus_two": "AVAILABLE"}
    assert returncode == 0
    assert f"Gateway ready at {url}/\n" in startup
    assert len(children) == (3 if find_nginx() else 2)  # nginx in front where installed
    assert not any(is_running(pid) for pid in children)


def test_runstack_exits_non_zero_and_stops_gunicorn_when_the_model_server_dies(
    runstack: tuple[subprocess.Popen, str, str],
) -> None:
    process, _, _ = runstack
    children = children_of(process.pid)
    [model_server] = [pid for pid in children if "modelserver" in command_line(pid)]
    [gunicorn] = [pid for pid in children if "gunicorn" in command_line(pid)]

    os.kill(model_server, signal.SIGKILL)
    returncode = process.wait(60)
    deadline = time.monotonic() + 30
    while is_running(gunicorn) and time.monotonic() < deadline:
        time.sleep(0.1)

    assert returncode != 0
    assert not is_running(gunicorn)
