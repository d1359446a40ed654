"""The gRPC services: tensorflow.serving.PredictionService and ModelService."""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import grpc
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)

from modelserver import errors, tracing
from modelserver.inference import Inference
from modelserver.manager import ConfigurationRejected, ServableManager
from modelserver.model_config import ModelConfigError, model_configs_from_proto
from modelserver.request_limits import RequestLimits, examples_batch_size, predict_batch_size

log = logging.getLogger(__name__)

REQUEST_ID_KEY = "x-request-id"
SIGNATURE_DEF_FIELD = "signature_def"
# TF Serving cuts longer messages and marks them (grpc_status_util.cc).
MESSAGE_LIMIT = 1024

Request = TypeVar("Request")
Response = TypeVar("Response")


def _abort_message(message: str) -> str:
    if len(message) > MESSAGE_LIMIT:
        return message[:MESSAGE_LIMIT] + "...TRUNCATED"
    return message


class InFlightCalls:
    """Counts the calls being answered, so shutdown can refuse new ones and wait for these.

    gRPC's own server.stop(grace) also drains, but a call arriving on an open connection
    after it began fails with CANCELLED; refusing calls here first gives the UNAVAILABLE
    that clients (the gateway among them) retry on another server.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._count = 0
        self._draining = False

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        with self._changed:
            if self._draining:
                raise errors.shutting_down()
            self._count += 1
        try:
            yield
        finally:
            with self._changed:
                self._count -= 1
                self._changed.notify_all()

    def drain(self, timeout: float) -> bool:
        """Refuse new calls; wait until none is in flight. False if the timeout passed first."""
        with self._changed:
            self._draining = True
            return self._changed.wait_for(lambda: self._count == 0, timeout)


class _Servicer:
    def __init__(self, manager: ServableManager, calls: InFlightCalls) -> None:
        self._manager = manager
        self._calls = calls


def rpc(
    method: Callable[[_Servicer, Request], Response],
) -> Callable[[_Servicer, Request, grpc.ServicerContext], Response]:
    """Count the call, log the caller's request id, turn any failure into a gRPC status."""

    @functools.wraps(method)
    def handler(self: _Servicer, request: Request, context: grpc.ServicerContext) -> Response:
        request_id = None
        if log.isEnabledFor(logging.DEBUG):
            request_id = dict(context.invocation_metadata()).get(REQUEST_ID_KEY)
            log.debug("%s x-request-id=%s", method.__name__, request_id)
        try:
            service = type(self).__name__
            with tracing.call_span(service, method.__name__, context, request), self._calls.track():
                return method(self, request)
        except Exception as caught:  # every failure becomes a status, never a traceback
            error = errors.from_exception(caught)
            if error.code == grpc.StatusCode.INTERNAL:
                log.exception("%s failed (x-request-id=%s)", method.__name__, request_id)
            else:
                log.debug("%s failed (x-request-id=%s): %s", method.__name__, request_id, error)
            context.abort(error.code, _abort_message(error.message))
            raise  # unreachable: abort raises

    return handler


class PredictionService(_Servicer, prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(
        self,
        manager: ServableManager,
        calls: InFlightCalls,
        inference: Inference,
        limits: RequestLimits,
    ) -> None:
        super().__init__(manager, calls)
        self._inference = inference
        self._limits = limits

    @rpc
    def Predict(self, request):
        self._limits.check_batch_size(predict_batch_size(request.inputs))
        return self._inference.predict(request)

    @rpc
    def Classify(self, request):
        self._limits.check_batch_size(examples_batch_size(request.input))
        return self._inference.classify(request)

    @rpc
    def Regress(self, request):
        self._limits.check_batch_size(examples_batch_size(request.input))
        return self._inference.regress(request)

    @rpc
    def MultiInference(self, request):
        self._limits.check_batch_size(examples_batch_size(request.input))
        return self._inference.multi_inference(request)

    @rpc
    def GetModelMetadata(self, request):
        if not request.HasField("model_spec"):
            raise errors.missing_model_spec()
        if not request.metadata_field:
            raise errors.metadata_field_missing()
        for field in request.metadata_field:
            if field != SIGNATURE_DEF_FIELD:
                raise errors.metadata_field_unsupported(field)
        servable = self._manager.resolve(request.model_spec)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, signature_def in servable.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(signature_def)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
        return response


class ModelService(_Servicer, model_service_pb2_grpc.ModelServiceServicer):
    def __init__(
        self, manager: ServableManager, calls: InFlightCalls, working_directory: Path
    ) -> None:
        super().__init__(manager, calls)
        self._working_directory = working_directory

    @rpc
    def GetModelStatus(self, request):
        if not request.HasField("model_spec"):
            raise errors.missing_model_spec()
        name = request.model_spec.name
        statuses = self._manager.version_statuses(name)
        if request.model_spec.HasField("version"):
            version = request.model_spec.version.value
            if version not in statuses:
                raise errors.no_such_version(name, version)
            statuses = {version: statuses[version]}
        elif not statuses:
            raise errors.no_versions_of_model(name)
        response = get_model_status_pb2.GetModelStatusResponse()
        for version, status in sorted(statuses.items()):
            entry = response.model_version_status.add()
            entry.version = version
            entry.state = status.state
            entry.status.error_code = status.error_code
            entry.status.error_message = status.error_message
        return response

    @rpc
    def HandleReloadConfigRequest(self, request):
        response = model_management_pb2.ReloadConfigResponse()
        try:
            configs = model_configs_from_proto(request.config, self._working_directory)
            self._manager.reload(configs)
        except ModelConfigError as error:
            raise errors.ServingError(error.code, error.message) from error
        except ConfigurationRejected as error:
            log.error("ReloadConfig failed: %s", error.message)
            raise errors.ServingError(error.code, error.message) from error
        log.info("Reloaded model config: %s", ", ".join(self._manager.model_names()))
        response.status.error_code = grpc.StatusCode.OK.value[0]
        return response
