"""Versions that fail to load: TF Serving's retries, its start-up and reload errors, their status.

As TF Serving (loader_harness.cc, util/retrier.cc, server_core.cc): a load is tried
1 + --max_num_load_retries times, --load_retry_interval_micros apart, while the version
shows LOADING; then it is END with the load's error. A model entering the configuration
must have its latest aspired version AVAILABLE, or the start-up (exit 1) or the
HandleReloadConfigRequest that added it fails with "... did not become available".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)

from tests.modelserver.requests import outputs_of, predict_request, status_request
from tests.support.processes import ROOT, ModelServerProcess, free_port, model_server

State = get_model_status_pb2.ModelVersionStatus.State
RETRY_INTERVAL_SECONDS = 10  # the time a test has to change a folder between two tries


def broken_version(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"not a SavedModel")
    return folder


def cannot_parse(folder: Path) -> str:
    return f"DATA_LOSS: Can't parse {folder / 'saved_model.pb'} as binary proto"


def start(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, "-m", "modelserver", f"--port={free_port()}", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def eventually(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        time.sleep(0.1)


# ---- start-up --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def failed_start_up(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    version = broken_version(tmp_path_factory.mktemp("broken") / "model" / "1")
    completed = start(
        [
            "--model_name=default",
            f"--model_base_path={version.parent}",
            "--max_num_load_retries=2",
            "--load_retry_interval_micros=-1",
        ],
        cwd=version.parent,
    )
    return completed, version


def test_a_failing_load_is_tried_one_plus_max_num_load_retries_times(failed_start_up):
    completed, version = failed_start_up
    lines = completed.stderr.splitlines()

    failures = [
        line for line in lines if "Loading servable: {name: default version: 1} failed" in line
    ]
    assert [line.split("] ", 1)[1] for line in failures] == [
        f"Loading servable: {{name: default version: 1}} failed: {cannot_parse(version)}"
    ] * 3
    for text in (
        "Retrying of Loading servable: {name: default version: 1} retry: 1",
        "Retrying of Loading servable: {name: default version: 1} retry: 2",
        "Retrying of Loading servable: {name: default version: 1} exhausted max_num_retries: 2",
    ):
        assert any(line.endswith(text) for line in lines), text


def test_start_up_stops_when_the_only_version_fails_to_load(failed_start_up):
    completed, version = failed_start_up

    assert completed.returncode == 1
    assert (
        "Failed to start server. Error: UNKNOWN: 1 servable(s) did not become available: "
        f"{{{{{{name: default version: 1}} due to error: {cannot_parse(version)}}}, }}"
    ) in completed.stderr


def test_start_up_fails_when_the_latest_version_fails_though_an_older_one_loads(
    models_dir: Path, tmp_path: Path
):
    shutil.copytree(models_dir / "half_plus_two" / "1", tmp_path / "model" / "1")
    broken = broken_version(tmp_path / "model" / "2")

    completed = start(
        [
            "--model_name=default",
            f"--model_base_path={tmp_path / 'model'}",
            "--max_num_load_retries=0",
        ],
        cwd=tmp_path,
    )

    # TF Serving aspires to the latest version only; it does not fall back to version 1.
    assert completed.returncode == 1
    assert (
        "1 servable(s) did not become available: "
        f"{{{{{{name: default version: 2}} due to error: {cannot_parse(broken)}}}, }}"
    ) in completed.stderr
    assert "Loading servable version {name: default version: 1}" not in completed.stderr


def test_start_up_succeeds_when_an_older_version_fails_but_the_latest_loads(
    models_dir: Path, tmp_path: Path
):
    broken = broken_version(tmp_path / "model" / "1")
    shutil.copytree(models_dir / "half_plus_two" / "2", tmp_path / "model" / "2")
    (tmp_path / "models.config").write_text(
        'model_config_list { config { name: "default" base_path: "model" '
        "model_version_policy { all {} } } }"
    )

    with (
        model_server(
            args=["--model_config_file=models.config", "--max_num_load_retries=0"], cwd=tmp_path
        ) as process,
        grpc.insecure_channel(process.address) as channel,
    ):
        statuses = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
            status_request("default")
        )

    by_version = {s.version: s for s in statuses.model_version_status}
    assert (by_version[2].state, by_version[2].status.error_code) == (State.AVAILABLE, 0)
    assert (by_version[1].state, by_version[1].status.error_code) == (
        State.END,
        grpc.StatusCode.DATA_LOSS.value[0],
    )
    assert by_version[1].status.error_message == cannot_parse(broken).removeprefix("DATA_LOSS: ")


# ---- HandleReloadConfigRequest ---------------------------------------------------------------


@pytest.fixture(scope="module")
def retrying_server(
    models_dir: Path, tmp_path_factory
) -> Iterator[tuple[ModelServerProcess, Path]]:
    log = tmp_path_factory.mktemp("retrying") / "server.log"
    args = [
        "--model_name=half_plus_two",
        f"--model_base_path={models_dir / 'half_plus_two'}",
        "--file_system_poll_wait_seconds=0",
        "--max_num_load_retries=1",
        f"--load_retry_interval_micros={RETRY_INTERVAL_SECONDS * 1_000_000}",
    ]
    with model_server(args=args, log_path=log) as process:
        yield process, log


def reload_request(models: dict[str, Path]) -> model_management_pb2.ReloadConfigRequest:
    request = model_management_pb2.ReloadConfigRequest()
    for name, path in models.items():
        request.config.model_config_list.config.add(name=name, base_path=str(path))
    return request


def state_of(models, name: str, version: int) -> int:
    response = models.GetModelStatus(status_request(name, version))
    return response.model_version_status[0].state


def test_a_load_that_succeeds_on_retry_serves_the_version(retrying_server, models_dir, tmp_path):
    process, log = retrying_server
    flaky = broken_version(tmp_path / "flaky" / "1")
    with grpc.insecure_channel(process.address) as channel:
        models = model_service_pb2_grpc.ModelServiceStub(channel)
        reloading = models.HandleReloadConfigRequest.future(
            reload_request({"half_plus_two": models_dir / "half_plus_two", "flaky": flaky.parent})
        )
        eventually(lambda: "Loading servable: {name: flaky version: 1} failed" in log.read_text())
        state_while_waiting = state_of(models, "flaky", 1)
        for item in (models_dir / "half_plus_two" / "1").iterdir():  # fix it before the retry
            copy = shutil.copytree if item.is_dir() else shutil.copy
            copy(item, flaky / item.name)

        response = reloading.result(timeout=120)
        answer = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
            predict_request("flaky", {"x": np.array([2.0], np.float32)})
        )
        state_after = state_of(models, "flaky", 1)

    assert state_while_waiting == State.LOADING
    assert response.status.error_code == 0
    assert state_after == State.AVAILABLE
    assert list(outputs_of(answer)["y"]) == [3.0]
    assert "Retrying of Loading servable: {name: flaky version: 1} retry: 1" in log.read_text()


def test_retrying_stops_when_the_version_folder_is_gone(retrying_server, models_dir, tmp_path):
    process, log = retrying_server
    gone = broken_version(tmp_path / "gone" / "1")
    with grpc.insecure_channel(process.address) as channel:
        models = model_service_pb2_grpc.ModelServiceStub(channel)
        reloading = models.HandleReloadConfigRequest.future(
            reload_request({"half_plus_two": models_dir / "half_plus_two", "gone": gone.parent})
        )
        eventually(lambda: "Loading servable: {name: gone version: 1} failed" in log.read_text())
        shutil.rmtree(gone)

        with pytest.raises(grpc.RpcError) as caught:
            reloading.result(timeout=120)
        state_after = state_of(models, "gone", 1)

    assert caught.value.code() == grpc.StatusCode.UNKNOWN
    assert caught.value.details() == (
        "1 model(s) did not become available: "
        f"{{{{{{name: gone version: 1}} due to error: {cannot_parse(gone)}}}, }}"
    )
    assert state_after == State.END
    assert "Retrying of Loading servable: {name: gone version: 1} was cancelled." in log.read_text()
