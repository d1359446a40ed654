"""Model warmup (--enable_model_warmup), the cases of TF Serving's saved_model_warmup_test.cc
and saved_model_warmup_util_test.cc, through the real server.

The test model half_plus_two_warmup counts its session runs (its "runs" signature reads
the count without adding to it), and its warmup file holds one predict, classify, regress
and multi-inference request: four session runs. A count seen by the first client call
proves the requests ran before the version was AVAILABLE. Broken warmup files are tried
on copies of the model added with HandleReloadConfigRequest, which answers with the
load's error as TF Serving's ServerCore does.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_log_pb2,
    prediction_service_pb2_grpc,
)

from tests.tfserving_suite.servers import HALF_PLUS_TWO_WARMUP, failed_start

MODEL = "half_plus_two_warmup"
VERSION_DIR = "00000123"
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
RPC_TIMEOUT = 60.0
# TF Serving's default of 5 retries a minute apart would hold every failing load 5 minutes.
NO_RETRIES = ("--max_num_load_retries=0",)
State = get_model_status_pb2.ModelVersionStatus.State


def runs(address: str, model: str = MODEL) -> float:
    """How many session runs the model has executed (warmup included)."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = "runs"
    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(address))
    return stub.Predict(request, RPC_TIMEOUT).outputs["runs"].float_val[0]


def predict_log(signature: str, **inputs: object) -> prediction_log_pb2.PredictionLog:
    log = prediction_log_pb2.PredictionLog()
    log.predict_log.request.model_spec.signature_name = signature
    for alias, value in inputs.items():
        log.predict_log.request.inputs[alias].CopyFrom(tf.make_tensor_proto(value))
    return log


def tfrecord_of(records: list[bytes]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        with tf.io.TFRecordWriter(str(path)) as writer:
            for record in records:
                writer.write(record)

    return write


def copy_with_warmup(base: Path, name: str, write: Callable[[Path], None] | None) -> Path:
    """The test model under another name, with its warmup file replaced (None: removed)."""
    model_path = base / name
    shutil.copytree(HALF_PLUS_TWO_WARMUP / VERSION_DIR, model_path / VERSION_DIR)
    warmup = model_path / VERSION_DIR / WARMUP_FILE
    warmup.unlink()
    if write is not None:
        write(warmup)
    return model_path


def reload(address: str, models: dict[str, Path]) -> None:
    request = model_management_pb2.ReloadConfigRequest()
    for name, path in models.items():
        request.config.model_config_list.config.add(
            name=name, base_path=str(path), model_platform="tensorflow"
        )
    stub = model_service_pb2_grpc.ModelServiceStub(grpc.insecure_channel(address))
    stub.HandleReloadConfigRequest(request, RPC_TIMEOUT)


def version_status(address: str, name: str):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = name
    stub = model_service_pb2_grpc.ModelServiceStub(grpc.insecure_channel(address))
    (status,) = stub.GetModelStatus(request, RPC_TIMEOUT).model_version_status
    return status


@pytest.fixture(scope="module")
def warm_server(model_servers):
    return model_servers.run(MODEL, HALF_PLUS_TWO_WARMUP, args=NO_RETRIES)


def test_warmup_requests_run_before_the_version_is_available(model_servers, warm_server):
    """RunSuccess / MixedWarmupData: each of the four records ran once."""
    assert runs(warm_server.address) == 4.0
    warmup_path = HALF_PLUS_TWO_WARMUP / VERSION_DIR / WARMUP_FILE
    assert (
        f"Finished reading warmup data for model at {warmup_path}. Number of warmup records "
        "read: 4." in model_servers.log_of(warm_server)
    )


def test_each_request_runs_num_request_iterations_for_warmup_times(model_servers):
    """MixedWarmupData with ModelWarmupOptions.num_request_iterations = 2."""
    server = model_servers.run(
        MODEL, HALF_PLUS_TWO_WARMUP, args=("--num_request_iterations_for_warmup=2",)
    )

    assert runs(server.address) == 8.0


def test_enable_model_warmup_false_skips_the_warmup_file(model_servers):
    server = model_servers.run(MODEL, HALF_PLUS_TWO_WARMUP, args=("--enable_model_warmup=false",))

    assert runs(server.address) == 0.0


def test_a_version_without_a_warmup_file_loads(model_servers, warm_server, tmp_path):
    """NoWarmupDataFile: the file is optional."""
    path = copy_with_warmup(tmp_path, "no_warmup_file", None)

    reload(warm_server.address, {MODEL: HALF_PLUS_TWO_WARMUP, "no_warmup_file": path})

    assert runs(warm_server.address, "no_warmup_file") == 0.0
    assert f"No warmup data file found at {path / VERSION_DIR / WARMUP_FILE}" in (
        model_servers.log_of(warm_server)
    )


def test_an_empty_warmup_file_loads(warm_server, tmp_path):
    """WarmupDataFileEmpty."""
    path = copy_with_warmup(tmp_path, "empty_warmup_file", tfrecord_of([]))

    reload(warm_server.address, {MODEL: HALF_PLUS_TWO_WARMUP, "empty_warmup_file": path})

    assert runs(warm_server.address, "empty_warmup_file") == 0.0


def raw_bytes(path: Path) -> None:
    path.write_bytes(predict_log("runs").SerializeToString() * 10)


def unsupported(log_type: str) -> Callable[[Path], None]:
    log = prediction_log_pb2.PredictionLog()
    getattr(log, log_type).SetInParent()
    return tfrecord_of([log.SerializeToString()])


FAILING_WARMUP = [
    (
        "unsupported_file_format",
        raw_bytes,
        "DATA_LOSS",
        lambda path: (
            "corrupted record at 0 (Is this even a TFRecord file?). Please verify your "
            "warmup data is in TFRecord format."
        ),
    ),
    (
        "too_many_warmup_records",
        tfrecord_of([predict_log("runs").SerializeToString()] * 1001),
        "INVALID_ARGUMENT",
        lambda path: f"Number of warmup records exceeds the maximum (1000) at {path}",
    ),
    (
        "unparsable_record",
        tfrecord_of([b"malformed_record"]),
        "INVALID_ARGUMENT",
        lambda path: f"Failed to parse warmup record: malformed_record from {path}",
    ),
    (
        "run_failure",
        tfrecord_of([predict_log("serving_default", x=[b"two"]).SerializeToString()]),
        "INVALID_ARGUMENT",
        lambda path: "Expects arg[0] to be float but string is provided",
    ),
    (
        "unsupported_log_type_session_run",
        unsupported("session_run_log"),
        "UNIMPLEMENTED",
        lambda path: "Unsupported log_type for warmup: 5",
    ),
    (
        "unsupported_log_type_predict_streamed",
        unsupported("predict_streamed_log"),
        "UNIMPLEMENTED",
        lambda path: "Unsupported log_type for warmup: 7",
    ),
]


@pytest.mark.parametrize(
    ("name", "write", "code", "message"), FAILING_WARMUP, ids=[case[0] for case in FAILING_WARMUP]
)
def test_a_failing_warmup_fails_the_load_with_its_error(
    warm_server, tmp_path, name, write, code, message
):
    path = copy_with_warmup(tmp_path, name, write)
    expected = message(path / VERSION_DIR / WARMUP_FILE)

    with pytest.raises(grpc.RpcError) as caught:
        reload(warm_server.address, {MODEL: HALF_PLUS_TWO_WARMUP, name: path})

    assert caught.value.code() == grpc.StatusCode.UNKNOWN
    # ServerCore's wording: "{" + ("{" + servable id + " due to error: " + status + "}, ")... + "}"
    assert caught.value.details() == (
        "1 model(s) did not become available: {{{name: " + name + " version: 123} due to "
        f"error: {code}: {expected}" + "}, }"
    )
    status = version_status(warm_server.address, name)
    assert (status.version, status.state) == (123, State.END)
    assert (grpc.StatusCode[code].value[0], status.status.error_message) == (
        status.status.error_code,
        expected,
    )


def test_a_failing_warmup_stops_the_start_up(tmp_path):
    path = copy_with_warmup(tmp_path, "default", FAILING_WARMUP[3][1])

    completed = failed_start("default", path, args=NO_RETRIES)

    assert completed.returncode == 1
    assert (
        "Failed to start server. Error: UNKNOWN: 1 servable(s) did not become available: "
        "{{{name: default version: 123} due to error: INVALID_ARGUMENT: Expects arg[0] to be "
        "float but string is provided}, }" in completed.stderr
    )
