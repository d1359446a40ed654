"""Process life cycle: SIGTERM drains in-flight calls and exits 0; a busy port exits 1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import prediction_service_pb2_grpc

from tests.modelserver.requests import half_plus_two_request, outputs_of, predict_request
from tests.support.processes import ROOT, model_server


def eventually(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        time.sleep(0.05)


def test_sigterm_lets_the_call_in_flight_finish_then_exits_cleanly(
    models_dir: Path, tmp_path: Path
):
    log = tmp_path / "server.log"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELSERVER_LOG_LEVEL", "DEBUG")
        with (
            model_server(
                args=["--model_config_file=models.config", "--file_system_poll_wait_seconds=0"],
                cwd=models_dir,
                log_path=log,
            ) as process,
            grpc.insecure_channel(process.address) as channel,
        ):
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            in_flight = stub.Predict.future(
                predict_request("slow", {"delay_seconds": np.array([1.5], np.float32)}),
                metadata=[("x-request-id", "drain-me")],
            )
            # The server logs the request id when the call starts running.
            eventually(lambda: "Predict x-request-id=drain-me" in log.read_text())

            process.process.send_signal(signal.SIGTERM)
            eventually(lambda: "Shutting down: draining in-flight calls" in log.read_text())
            with pytest.raises(grpc.RpcError) as refused:
                stub.Predict(half_plus_two_request([1.0]), timeout=5)
            answer = in_flight.result()
            exit_code = process.process.wait(timeout=30)

    assert float(outputs_of(answer)["waited"][0]) >= 1.5
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert refused.value.details() == "Server is shutting down"
    assert exit_code == 0
    text = log.read_text()
    assert "Received SIGTERM" in text
    assert text.rstrip().endswith("Server stopped")


def test_busy_port_fails_start_up_with_exit_code_1(server, models_dir: Path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelserver",
            f"--port={server.port}",
            "--model_name=half_plus_two",
            f"--model_base_path={models_dir / 'half_plus_two'}",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 1
    assert f"cannot listen on 127.0.0.1:{server.port}: is the port in use?" in completed.stderr
