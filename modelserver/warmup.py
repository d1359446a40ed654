"""--enable_model_warmup: replay a version's sample requests before it becomes AVAILABLE.

As TF Serving (saved_model_warmup.cc, saved_model_warmup_util.cc): the requests are read
from ``assets.extra/tf_serving_warmup_requests``, a TFRecord file of PredictionLog
protos, and each is run on the version being loaded, ``--num_request_iterations_for_warmup``
times (once if 0), through the same code as a real request (its ModelSpec's name and
version are not looked at). The file is optional. A request that fails, a record that is
not a PredictionLog, a file that is not a TFRecord or more than 1000 records fail the load
with TF Serving's messages, and the load is then retried like any failed load.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import grpc
import tensorflow as tf
from google.protobuf.message import DecodeError
from tensorflow.python.lib.io import _pywrap_record_io
from tensorflow_serving.apis import prediction_log_pb2

from modelserver import errors
from modelserver.inference import (
    RunOptions,
    run_classify,
    run_multi_inference,
    run_predict,
    run_regress,
)
from modelserver.servable import Servable

log = logging.getLogger(__name__)

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
MAX_RECORDS = 1000

# The PredictionLog field of each request kind warmup replays, and how it is run.
_RUNNERS = {
    "predict_log": run_predict,
    "classify_log": run_classify,
    "regress_log": run_regress,
    "multi_inference_log": run_multi_inference,
}
_LOG_TYPE_NUMBERS = {
    field.name: field.number
    for field in prediction_log_pb2.PredictionLog.DESCRIPTOR.oneofs_by_name["log_type"].fields
}


def _replay(servable: Servable, record: prediction_log_pb2.PredictionLog, options: RunOptions):
    kind = record.WhichOneof("log_type")
    if kind is None:
        return  # TF Serving skips a record without a request
    if kind not in _RUNNERS:
        raise errors.ServingError(
            grpc.StatusCode.UNIMPLEMENTED,
            f"Unsupported log_type for warmup: {_LOG_TYPE_NUMBERS[kind]}",
        )
    _RUNNERS[kind](servable, getattr(record, kind).request, options, None)


def warm_up(servable: Servable, options: RunOptions, num_request_iterations: int = 0) -> None:
    """Replay the version's warmup file, if it has one; raise a ServingError if warmup fails."""
    path = servable.path / WARMUP_FILE
    if not path.is_file():
        log.info("No warmup data file found at %s", path)
        return
    iterations = num_request_iterations if num_request_iterations > 0 else 1
    log.info(
        "Starting to read warmup data for model at %s with model-warmup-options %s",
        path,
        f"num_request_iterations {{ value: {iterations} }}" if num_request_iterations > 0 else "",
    )
    start = time.monotonic()
    count = 0
    try:
        # TensorFlow's TFRecord reader, as tf.compat.v1.io.tf_record_iterator returns it
        # (without that function's deprecation warning; tf.data would add op names to
        # the reader's errors, which TF Serving passes on as they are).
        for serialized in _pywrap_record_io.RecordIterator(str(path), ""):
            record = prediction_log_pb2.PredictionLog()
            try:
                record.ParseFromString(serialized)
            except DecodeError:
                raise errors.ServingError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "Failed to parse warmup record: "
                    f"{serialized.decode('utf-8', 'replace')} from {path}",
                ) from None
            for _ in range(iterations):
                _replay(servable, record, options)
            count += 1
            if count > MAX_RECORDS:
                raise errors.ServingError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Number of warmup records exceeds the maximum ({MAX_RECORDS}) at {path}",
                )
    except tf.errors.DataLossError as error:
        raise errors.ServingError(
            grpc.StatusCode.DATA_LOSS,
            f"{error.message}. Please verify your warmup data is in TFRecord format.",
        ) from error
    elapsed = int((time.monotonic() - start) * 1e6)
    log.info(
        "Finished reading warmup data for model at %s. Number of warmup records read: %d. "
        "Elapsed time (microseconds): %d.",
        path,
        count,
        elapsed,
    )
