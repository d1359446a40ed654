"""Server-side batching: concurrent Predict calls are merged, run once and split back.

Merging is proven by the server's own account of each batch (the DEBUG line
"processed batch for <servable> <signature>: N tasks, size S padded to P"), not by
timing. The batch timeout is long (0.3 s) next to the time the test needs to send
a handful of concurrent calls, and a batch that fills up goes at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import prediction_service_pb2_grpc

from tests.modelserver.reference import session_signatures
from tests.modelserver.requests import half_plus_two_request, outputs_of, predict_request
from tests.support.processes import ModelServerProcess, model_server

BATCHING_PARAMETERS = """
max_batch_size { value: 4 }
batch_timeout_micros { value: 300000 }
num_batch_threads { value: 2 }
max_enqueued_batches { value: 100 }
allowed_batch_sizes: 2
allowed_batch_sizes: 4
"""
BATCH_LINE = re.compile(
    r"processed batch for \{name: (\S+) version: (\d+)\} (\S+): "
    r"(\d+) tasks, size (\d+) padded to (\d+)"
)


@pytest.fixture(scope="module")
def batching_server(models_dir: Path, tmp_path_factory) -> Iterator[ModelServerProcess]:
    workdir = tmp_path_factory.mktemp("batching")
    (workdir / "batching.txt").write_text(BATCHING_PARAMETERS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELSERVER_LOG_LEVEL", "DEBUG")
        with model_server(
            args=[
                f"--model_config_file={models_dir / 'models.config'}",
                "--enable_batching",
                f"--batching_parameters_file={workdir / 'batching.txt'}",
                "--grpc_max_threads=32",
                "--file_system_poll_wait_seconds=0",
            ],
            cwd=models_dir,
            log_path=workdir / "server.log",
        ) as process:
            process_log = workdir / "server.log"
            yield process, process_log


@pytest.fixture(scope="module")
def stub(batching_server) -> Iterator[prediction_service_pb2_grpc.PredictionServiceStub]:
    process, _ = batching_server
    with grpc.insecure_channel(process.address) as channel:
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


def batches(log: Path, model: str, version: int, signature: str) -> list[tuple[int, int, int]]:
    """(tasks, size, padded size) of each batch the server processed for one queue."""
    return [
        (int(m[4]), int(m[5]), int(m[6]))
        for m in BATCH_LINE.finditer(log.read_text())
        if (m[1], int(m[2]), m[3]) == (model, version, signature)
    ]


def concurrently(call, requests) -> list:
    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(call, requests))


def test_concurrent_calls_are_merged_into_one_batch(batching_server, stub):
    _, log = batching_server
    requests = [
        half_plus_two_request([1.0], version=1),
        half_plus_two_request([2.0, 3.0], version=1),
        half_plus_two_request([4.0], version=1),
    ]

    responses = concurrently(stub.Predict, requests)

    assert [list(outputs_of(r)["y"]) for r in responses] == [[2.5], [3.0, 3.5], [4.0]]
    assert batches(log, "half_plus_two", 1, "serving_default") == [(3, 4, 4)]


def test_a_lone_call_is_padded_to_the_next_allowed_batch_size(batching_server, stub):
    _, log = batching_server

    response = stub.Predict(half_plus_two_request([1.0, 2.0, 3.0], version=2))

    assert list(outputs_of(response)["y"]) == [3.5, 4.0, 4.5]
    assert batches(log, "half_plus_two", 2, "serving_default") == [(1, 3, 4)]


def test_batched_results_equal_unbatched_tensorflow_results(batching_server, stub, models_dir):
    _, log = batching_server
    rng = np.random.default_rng(7)
    inputs = [
        {"a": rng.normal(size=n).astype(np.float32), "b": rng.normal(size=n).astype(np.float32)}
        for n in (1, 2, 1, 1, 2, 1, 1, 1, 2, 1, 3, 1)
    ]
    direct = session_signatures(models_dir / "examples" / "1")["serving_default"]

    responses = concurrently(stub.Predict, [predict_request("examples", i) for i in inputs])

    for given, response in zip(inputs, responses, strict=True):
        expected = direct(**given)
        got = outputs_of(response)
        np.testing.assert_array_equal(got["sum"], expected["sum"])
        np.testing.assert_array_equal(got["product"], expected["product"])
    processed = batches(log, "examples", 1, "serving_default")
    assert sum(tasks for tasks, _, _ in processed) == len(inputs)
    assert max(tasks for tasks, _, _ in processed) > 1
    assert all(size <= 4 and padded in (2, 4) for _, size, padded in processed)


def test_calls_with_different_trailing_shapes_run_in_separate_batches(batching_server, stub):
    _, log = batching_server
    requests = [
        predict_request("examples", {"rows": np.ones((2, 3), np.float32)}, signature="rowsum"),
        predict_request("examples", {"rows": np.ones((1, 5), np.float32)}, signature="rowsum"),
    ]

    responses = concurrently(stub.Predict, requests)

    assert [list(outputs_of(r)["sums"]) for r in responses] == [[3.0, 3.0], [5.0]]
    assert sorted(batches(log, "examples", 1, "rowsum")) == [(1, 1, 2), (1, 2, 2)]


def test_call_larger_than_max_batch_size_is_rejected(stub):
    with pytest.raises(grpc.RpcError) as caught:
        stub.Predict(half_plus_two_request([1.0] * 5, version=1))

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "Task size 5 is larger than maximum input batch size 4"


def test_inputs_with_different_batch_sizes_are_rejected(stub):
    request = predict_request("examples", {"a": [1.0, 2.0], "b": [1.0]})

    with pytest.raises(grpc.RpcError) as caught:
        stub.Predict(request)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == (
        "Batching Run() input tensors must have equal 0th-dimension size"
    )


def test_full_queue_answers_unavailable(models_dir: Path, tmp_path):
    (tmp_path / "batching.txt").write_text(
        "max_batch_size { value: 2 } batch_timeout_micros { value: 0 } "
        "num_batch_threads { value: 1 } max_enqueued_batches { value: 1 }"
    )
    log = tmp_path / "server.log"
    slow_call = predict_request("slow", {"delay_seconds": [1.0, 1.0]})
    with (
        model_server(
            args=[
                "--model_name=slow",
                f"--model_base_path={models_dir / 'slow'}",
                "--enable_batching",
                f"--batching_parameters_file={tmp_path / 'batching.txt'}",
            ],
            log_path=log,
        ) as process,
        grpc.insecure_channel(process.address) as channel,
    ):
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        # One worker: while it runs one full batch, one more batch may wait; the rest
        # of these calls find the queue full, whatever order they arrive in.
        futures = [stub.Predict.future(slow_call) for _ in range(4)]
        outcomes = []
        for future in futures:
            try:
                outcomes.append(("ok", float(outputs_of(future.result())["waited"][0]) >= 1.0))
            except grpc.RpcError as error:
                outcomes.append((error.code(), error.details()))

    assert ("ok", True) in outcomes
    assert (
        grpc.StatusCode.UNAVAILABLE,
        "The batch scheduling queue to which this task was submitted is full; currently 1 "
        "batches enqueued and max_enqueued_batches is 1",
    ) in outcomes
    text = log.read_text()
    assert "Batching statistics: tasks per batch {1: " in text, text[-3000:]
