"""An in-process gRPC server implementing TF Serving's services with canned answers and faults.

Used by the client tests for what a real model server cannot be made to do on cue:
fail with UNAVAILABLE a given number of times, answer too slowly, or count which
of two backends a call reached.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field

import grpc
import numpy as np

from tests.tfserving.builders import half_plus_two_metadata
from tfserving.protos import (
    classification_pb2,
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)
from tfserving.tensors import array_from_tensor_proto, tensor_proto_from_array


@dataclass
class Call:
    method: str
    request: object
    metadata: dict[str, str]


@dataclass
class CannedBehaviour:
    """What the server does; tests change it while the server runs."""

    faults: list[tuple[grpc.StatusCode, str]] = field(default_factory=list)
    delay_seconds: float = 0.0
    reload_status: tuple[int, str] = (0, "")  # the status a reload answers in its response
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, method: str, request: object, context: grpc.ServicerContext) -> None:
        with self.lock:
            self.calls.append(Call(method, request, dict(context.invocation_metadata())))
            fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            context.abort(*fault)
        if self.delay_seconds:
            time.sleep(self.delay_seconds)


class CannedPredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict computes y = 0.5 * x + 2 on input "x", like half_plus_two version 1."""

    def __init__(self, behaviour: CannedBehaviour) -> None:
        self.behaviour = behaviour

    def Predict(self, request, context):
        self.behaviour.record("Predict", request, context)
        x = array_from_tensor_proto(request.inputs["x"])
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        response.model_spec.version.value = 1
        response.outputs["y"].CopyFrom(tensor_proto_from_array(0.5 * x + 2, 1))
        return response

    def Classify(self, request, context):
        self.behaviour.record("Classify", request, context)
        response = classification_pb2.ClassificationResponse()
        for _ in request.input.example_list.examples:
            classes = response.result.classifications.add().classes
            classes.add(label="yes", score=0.75)
        return response

    def Regress(self, request, context):
        self.behaviour.record("Regress", request, context)
        response = regression_pb2.RegressionResponse()
        for _ in request.input.example_list.examples:
            response.result.regressions.add(value=1.5)
        return response

    def GetModelMetadata(self, request, context):
        self.behaviour.record("GetModelMetadata", request, context)
        return half_plus_two_metadata(version=2)


class CannedModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, behaviour: CannedBehaviour) -> None:
        self.behaviour = behaviour

    def GetModelStatus(self, request, context):
        self.behaviour.record("GetModelStatus", request, context)
        response = get_model_status_pb2.GetModelStatusResponse()
        response.model_version_status.add(version=2, state=30)
        return response

    def HandleReloadConfigRequest(self, request, context):
        self.behaviour.record("HandleReloadConfigRequest", request, context)
        response = model_management_pb2.ReloadConfigResponse()
        response.status.error_code, response.status.error_message = self.behaviour.reload_status
        return response


@dataclass
class RunningServer:
    address: str
    port: int
    behaviour: CannedBehaviour
    server: grpc.Server


@contextlib.contextmanager
def canned_server(
    port: int = 0, behaviour: CannedBehaviour | None = None
) -> Iterator[RunningServer]:
    """Serve on 127.0.0.1 (a free port unless given) until the block ends."""
    behaviour = behaviour or CannedBehaviour()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        CannedPredictionService(behaviour), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(CannedModelService(behaviour), server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    try:
        yield RunningServer(f"127.0.0.1:{bound}", bound, behaviour, server)
    finally:
        server.stop(grace=None)


def x_values(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)
