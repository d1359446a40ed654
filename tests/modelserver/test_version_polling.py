"""Versions appear and disappear on disk while the server runs; it follows without a restart."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)

from tests.modelserver.requests import outputs_of, predict_request, status_request
from tests.modelserver.savedmodels import export_half_plus_two
from tests.support.processes import ModelServerProcess, model_server

State = get_model_status_pb2.ModelVersionStatus.State

# One model per test, so the tests do not depend on each other's order.
CONFIG = """
model_config_list {
  config { name: "grow" base_path: "grow" model_version_policy { all {} } }
  config { name: "shrink" base_path: "shrink" model_version_policy { all {} } }
  config { name: "swap" base_path: "swap" }
  config { name: "half_written" base_path: "half_written" model_version_policy { all {} } }
  config { name: "broken" base_path: "broken" }
}
"""
MODELS = ("grow", "shrink", "swap", "half_written", "broken")


@pytest.fixture(scope="module")
def base(tmp_path_factory, models_dir: Path) -> Path:
    base = tmp_path_factory.mktemp("polled")
    for name in MODELS:
        shutil.copytree(models_dir / "half_plus_two" / "1", base / name / "1")
    shutil.copytree(models_dir / "half_plus_two" / "2", base / "shrink" / "2")
    (base / "models.config").write_text(CONFIG)
    return base


@pytest.fixture(scope="module")
def polling_server(base: Path) -> Iterator[ModelServerProcess]:
    with model_server(
        # One try per load (TF Serving's default is 5 retries a minute apart), so the
        # broken version is reported END at once.
        args=[
            "--model_config_file=models.config",
            "--file_system_poll_wait_seconds=1",
            "--max_num_load_retries=0",
        ],
        cwd=base,
        log_path=base / "server.log",
    ) as process:
        yield process


@pytest.fixture(scope="module")
def stubs(polling_server):
    with grpc.insecure_channel(polling_server.address) as channel:
        yield (
            prediction_service_pb2_grpc.PredictionServiceStub(channel),
            model_service_pb2_grpc.ModelServiceStub(channel),
        )


def eventually(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        time.sleep(0.1)


def states(models, name: str) -> dict[int, int]:
    response = models.GetModelStatus(status_request(name))
    return {s.version: s.state for s in response.model_version_status}


def y_of(prediction, name: str, version: int | None = None) -> float:
    request = predict_request(name, {"x": np.array([2.0], np.float32)}, version=version)
    return float(outputs_of(prediction.Predict(request))["y"][0])


def test_new_version_folder_is_served_without_restart(base, stubs):
    prediction, models = stubs
    assert y_of(prediction, "grow") == 3.0

    export_half_plus_two(base / "grow", 2)  # 0.5 x + 3

    eventually(lambda: states(models, "grow").get(2) == State.AVAILABLE)
    assert y_of(prediction, "grow") == 4.0
    assert y_of(prediction, "grow", version=1) == 3.0
    log = (base / "server.log").read_text()
    assert "Successfully loaded servable version {name: grow version: 2}: AVAILABLE" in log


def test_removed_version_folder_is_unloaded(base, stubs):
    prediction, models = stubs
    assert states(models, "shrink") == {1: State.AVAILABLE, 2: State.AVAILABLE}

    shutil.rmtree(base / "shrink" / "1")

    eventually(lambda: states(models, "shrink") == {1: State.END, 2: State.AVAILABLE})
    with pytest.raises(grpc.RpcError) as caught:
        y_of(prediction, "shrink", version=1)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "Servable not found for request: Specific(shrink, 1)"
    assert y_of(prediction, "shrink", version=2) == 4.0
    assert (
        "Unloaded servable version {name: shrink version: 1}: END"
        in (base / "server.log").read_text()
    )


def test_latest_policy_swaps_versions_while_answering_every_call(base, stubs):
    prediction, models = stubs
    answers: list[float] = []
    failures: list[Exception] = []
    stop = threading.Event()

    def keep_calling() -> None:
        while not stop.is_set():
            try:
                answers.append(y_of(prediction, "swap"))
            except grpc.RpcError as error:
                failures.append(error)

    caller = threading.Thread(target=keep_calling)
    caller.start()
    try:
        eventually(lambda: len(answers) > 0)
        export_half_plus_two(base / "swap", 2)
        eventually(lambda: states(models, "swap") == {1: State.END, 2: State.AVAILABLE})
        eventually(lambda: answers[-1] == 4.0)
    finally:
        stop.set()
        caller.join()

    assert failures == []
    assert set(answers) == {3.0, 4.0}
    first_new = answers.index(4.0)
    assert 3.0 not in answers[first_new:]


def test_half_written_version_folder_is_ignored_until_complete(base, stubs):
    prediction, models = stubs
    (base / "half_written" / "7" / "variables").mkdir(parents=True)  # no saved_model.pb yet
    export_half_plus_two(base / "half_written", 2)

    # The poll that found version 2 also saw the half-written 7 and skipped it.
    eventually(lambda: states(models, "half_written").get(2) == State.AVAILABLE)
    assert 7 not in states(models, "half_written")
    assert y_of(prediction, "half_written") == 4.0

    shutil.rmtree(base / "half_written" / "7")
    export_half_plus_two(base / "half_written", 7, offset=10.0)

    eventually(lambda: states(models, "half_written").get(7) == State.AVAILABLE)
    assert y_of(prediction, "half_written") == 11.0


def test_version_that_fails_to_load_leaves_the_others_serving_and_is_retried(base, stubs):
    prediction, models = stubs
    broken = base / "broken" / "8"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")

    eventually(lambda: states(models, "broken").get(8) == State.END)
    status = {
        s.version: s for s in models.GetModelStatus(status_request("broken")).model_version_status
    }
    assert status[8].status.error_code != 0
    assert status[8].status.error_message != ""
    assert status[1].state == State.AVAILABLE
    assert y_of(prediction, "broken") == 3.0

    shutil.rmtree(broken)
    export_half_plus_two(base / "broken", 8, offset=10.0)  # now complete: 0.5 x + 10

    eventually(lambda: states(models, "broken") == {1: State.END, 8: State.AVAILABLE})
    assert y_of(prediction, "broken") == 11.0
