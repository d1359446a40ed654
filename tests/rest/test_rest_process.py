"""The REST port in the model server's life cycle: start-up log, bad configs, busy ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.rest.conftest import RestServer, rest_model_server
from tests.support.processes import ROOT, free_port


def run_model_server(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "modelserver", f"--port={free_port()}", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_start_up_log_names_the_grpc_then_the_rest_address(models_server: RestServer):
    lines = models_server.log.read_text().splitlines()
    rest_port = models_server.url.rsplit(":", 1)[1]
    grpc_line = next(i for i, line in enumerate(lines) if "Running gRPC ModelServer at" in line)

    assert lines[grpc_line + 1].endswith(f"Exporting HTTP/REST API at:127.0.0.1:{rest_port} ...")
    assert lines[grpc_line + 2].endswith(
        "Prometheus metrics at /monitoring/prometheus/metrics on the REST port"
    )


def test_an_unreadable_monitoring_config_stops_start_up_with_exit_code_1(
    tf_serving_half_plus_two: Path, tmp_path: Path
):
    config = tmp_path / "monitoring.config"
    config.write_text("prometheus_config { enabled: true }")

    completed = run_model_server(
        "--model_name=default",
        f"--model_base_path={tf_serving_half_plus_two}",
        f"--rest_api_port={free_port()}",
        f"--monitoring_config_file={config}",
        cwd=tmp_path,
    )

    assert completed.returncode == 1
    assert "Invalid MonitoringConfig" in completed.stderr


def test_a_busy_rest_port_stops_start_up_with_exit_code_1(
    tf_serving_half_plus_two: Path, tmp_path: Path
):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]

        completed = run_model_server(
            "--model_name=default",
            f"--model_base_path={tf_serving_half_plus_two}",
            f"--rest_api_port={port}",
            cwd=tmp_path,
        )

    assert completed.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: is the port in use?" in completed.stderr


def test_rest_bind_address_0_0_0_0_listens_on_every_interface(
    tf_serving_half_plus_two: Path, tmp_path: Path
):
    with rest_model_server(
        [
            "--model_name=default",
            f"--model_base_path={tf_serving_half_plus_two}",
            "--rest_api_bind_address=0.0.0.0",
        ],
        cwd=tmp_path,
        log=tmp_path / "server.log",
    ) as server:
        port = int(server.url.rsplit(":", 1)[1])
        status = httpx.get(f"http://127.0.0.2:{port}/v1/models/default", timeout=30)

    assert status.json()["model_version_status"][0]["state"] == "AVAILABLE"
