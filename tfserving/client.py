"""gRPC client for TensorFlow Serving's PredictionService and ModelService.

One channel per process, shared by every PredictionClient with the same target
and message limit: a channel is an HTTP/2 connection pool, and creating one per
request costs a TCP + HTTP/2 handshake each time. It is created lazily on first
use and re-created when the process id changes, because a channel inherited
across ``fork()`` (gunicorn with --preload) must not be used by the child.

The channel balances calls over every address the target resolves to
(``round_robin``): ``dns:///tfserving-headless:8500`` or
``ipv4:10.0.0.1:8500,10.0.0.2:8500``. Every call has a deadline; calls that fail
with UNAVAILABLE (nothing was executed) are retried with exponential backoff
within that deadline; every gRPC failure leaves as an UpstreamError.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import grpc

from tfserving import tracing
from tfserving.codec import PredictInputs
from tfserving.errors import UpstreamError, grpc_code_of
from tfserving.models import ModelRef
from tfserving.protos import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    input_pb2,
    model_management_pb2,
    model_server_config_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)
from tfserving.signatures import SIGNATURE_DEF_FIELD

REQUEST_ID_METADATA_KEY = "x-request-id"
_MAX_REQUEST_ID_LENGTH = 128

# How long a retry waits for the channel to reconnect (see _wait_until_connected).
_RECONNECT_WAIT_SECONDS = 0.3

_SERVICE_CONFIG = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})
_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}


def backend_targets(target: str) -> list[str]:
    """One gRPC target per model server behind ``target``, for calls every server must get.

    A channel balances each call over the servers a target resolves to, but a config
    reload or a status check must reach each of them: ``dns:///host:port`` becomes one
    ``ipv4:``/``ipv6:`` target per address, ``ipv4:a:p,b:p`` one per entry; any other
    target names one server. An unresolvable name gives no targets.
    """
    if target.startswith(("ipv4:", "ipv6:")):
        scheme, _, addresses = target.partition(":")
        return [f"{scheme}:{address}" for address in addresses.split(",") if address]
    if not target.startswith("dns:"):
        return [target]
    host_and_port = target.removeprefix("dns:").lstrip("/").rsplit("/", 1)[-1]
    host, _, port = host_and_port.rpartition(":")
    host = host.strip("[]")
    try:
        found = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except (OSError, ValueError):
        return []
    targets = []
    for *_, address in found:
        ip = ipaddress.ip_address(address[0])
        entry = f"ipv4:{ip}:{port}" if ip.version == 4 else f"ipv6:[{ip}]:{port}"
        if entry not in targets:
            targets.append(entry)
    return targets


def channel_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    """gRPC channel arguments for talking to TF Serving."""
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.service_config", _SERVICE_CONFIG),
        # Our round_robin must not be replaced by a config published in DNS.
        ("grpc.service_config_disable_resolution", 1),
        # Reconnect within a quarter second once a model server is back (gRPC's
        # default backoff grows to 120 s, during which every call would fail with 503).
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 250),
        # Ping a connection that has carried no data for 60 s during a call, and drop
        # it if the ping is not answered in 20 s. Not while idle: gRPC servers,
        # TF Serving included, answer idle pings more often than every 2 h with
        # GOAWAY "too_many_pings".
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.keepalive_timeout_ms", 20_000),
        ("grpc.keepalive_permit_without_calls", 0),
    ]


@dataclass(frozen=True)
class _Stubs:
    pid: int
    channel: grpc.Channel
    prediction: prediction_service_pb2_grpc.PredictionServiceStub
    model: model_service_pb2_grpc.ModelServiceStub


_stubs_lock = threading.Lock()
_stubs_by_key: dict[tuple[str, int], _Stubs] = {}


def _shared_stubs(target: str, max_message_bytes: int) -> _Stubs:
    key = (target, max_message_bytes)
    pid = os.getpid()
    stubs = _stubs_by_key.get(key)
    if stubs is not None and stubs.pid == pid:
        return stubs
    with _stubs_lock:
        stubs = _stubs_by_key.get(key)
        if stubs is None or stubs.pid != pid:
            # A channel from the parent process is dropped, not closed: closing it
            # here would act on the parent's connections.
            channel = grpc.insecure_channel(target, options=channel_options(max_message_bytes))
            # While tracing, each call's metadata also carries its span's traceparent.
            channel = tracing.intercept(channel, target)
            stubs = _Stubs(
                pid=pid,
                channel=channel,
                prediction=prediction_service_pb2_grpc.PredictionServiceStub(channel),
                model=model_service_pb2_grpc.ModelServiceStub(channel),
            )
            _stubs_by_key[key] = stubs
        return stubs


# Entered around each call (its retries included) with the model's name (None for a
# config reload): the web tier's bound on concurrent calls, or nothing.
Admission = Callable[[str | None], AbstractContextManager[None]]


def _no_admission(model: str | None) -> AbstractContextManager[None]:
    return nullcontext()


def _request_metadata(request_id: str | None) -> tuple[tuple[str, str], ...]:
    if not request_id:
        return ()
    # gRPC metadata values must be printable ASCII; request ids may come from clients.
    cleaned = "".join(c for c in request_id if " " <= c <= "~")[:_MAX_REQUEST_ID_LENGTH]
    return ((REQUEST_ID_METADATA_KEY, cleaned),) if cleaned else ()


class PredictionClient:
    """Calls a TF Serving compatible model server. Thread-safe; knows nothing of HTTP."""

    def __init__(
        self,
        target: str,
        *,
        timeout_seconds: float,
        max_message_bytes: int,
        retries: int = 2,
        backoff_seconds: float = 0.05,
        admission: Admission = _no_admission,
    ) -> None:
        self.target = target
        self.timeout_seconds = timeout_seconds
        self.max_message_bytes = max_message_bytes
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.admission = admission

    @property
    def channel(self) -> grpc.Channel:
        """This process's channel for the target (created on first use)."""
        return _shared_stubs(self.target, self.max_message_bytes).channel

    # -- PredictionService -------------------------------------------------

    def predict(
        self,
        ref: ModelRef,
        predict_inputs: PredictInputs,
        request_id: str | None = None,
    ) -> predict_pb2.PredictResponse:
        request = predict_pb2.PredictRequest(
            model_spec=ref.model_spec(predict_inputs.signature_name)
        )
        for name, tensor in predict_inputs.tensors.items():
            request.inputs[name].CopyFrom(tensor)
        return self._call(lambda stubs: stubs.prediction.Predict, request, request_id, ref.name)

    def classify(
        self,
        ref: ModelRef,
        signature_name: str,
        input: input_pb2.Input,
        request_id: str | None = None,
    ) -> classification_pb2.ClassificationResponse:
        request = classification_pb2.ClassificationRequest(
            model_spec=ref.model_spec(signature_name), input=input
        )
        return self._call(lambda stubs: stubs.prediction.Classify, request, request_id, ref.name)

    def regress(
        self,
        ref: ModelRef,
        signature_name: str,
        input: input_pb2.Input,
        request_id: str | None = None,
    ) -> regression_pb2.RegressionResponse:
        request = regression_pb2.RegressionRequest(
            model_spec=ref.model_spec(signature_name), input=input
        )
        return self._call(lambda stubs: stubs.prediction.Regress, request, request_id, ref.name)

    def get_model_metadata(
        self,
        ref: ModelRef,
        request_id: str | None = None,
        *,
        timeout_seconds: float | None = None,
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        """The model's signatures; ``timeout_seconds`` (at most the client's) is what is
        left of a caller's own deadline."""
        request = get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=ref.model_spec(), metadata_field=[SIGNATURE_DEF_FIELD]
        )
        return self._call(
            lambda stubs: stubs.prediction.GetModelMetadata,
            request,
            request_id,
            ref.name,
            timeout_seconds=timeout_seconds,
        )

    # -- ModelService ------------------------------------------------------

    def get_model_status(
        self, ref: ModelRef, request_id: str | None = None
    ) -> get_model_status_pb2.GetModelStatusResponse:
        request = get_model_status_pb2.GetModelStatusRequest(model_spec=ref.model_spec())
        return self._call(lambda stubs: stubs.model.GetModelStatus, request, request_id, ref.name)

    def reload_config(
        self, config: model_server_config_pb2.ModelServerConfig, request_id: str | None = None
    ) -> model_management_pb2.ReloadConfigResponse:
        """HandleReloadConfigRequest: serve exactly ``config``'s models, versions and labels.

        A refusal the server reports in the response's status instead of the call's is
        raised as an UpstreamError all the same.
        """
        request = model_management_pb2.ReloadConfigRequest(config=config)
        response = self._call(
            lambda stubs: stubs.model.HandleReloadConfigRequest, request, request_id, None
        )
        if response.status.error_code:
            code = _STATUS_CODES.get(response.status.error_code, grpc.StatusCode.UNKNOWN)
            raise UpstreamError.from_status(code, response.status.error_message)
        return response

    def close(self) -> None:
        """Close this process's channel for the target (the next call opens a new one)."""
        key = (self.target, self.max_message_bytes)
        with _stubs_lock:
            stubs = _stubs_by_key.get(key)
            if stubs is not None and stubs.pid == os.getpid():
                del _stubs_by_key[key]
                stubs.channel.close()

    # -- internals ---------------------------------------------------------

    def _call(
        self,
        method: Callable[[_Stubs], grpc.UnaryUnaryMultiCallable],
        request: Any,
        request_id: str | None,
        model: str | None,
        *,
        timeout_seconds: float | None = None,
    ) -> Any:
        timeout = self.timeout_seconds
        if timeout_seconds is not None:
            timeout = min(timeout, timeout_seconds)
        deadline = time.monotonic() + timeout  # a wait for admission spends it too
        with self.admission(model):
            return self._call_within(method, request, request_id, deadline)

    def _call_within(
        self,
        method: Callable[[_Stubs], grpc.UnaryUnaryMultiCallable],
        request: Any,
        request_id: str | None,
        deadline: float,
    ) -> Any:
        metadata = _request_metadata(request_id)
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise UpstreamError.from_status(
                    grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"
                )
            stubs = _shared_stubs(self.target, self.max_message_bytes)
            if attempt and not self._wait_until_connected(stubs.channel, deadline):
                # This attempt is spent waiting; after the last one, give up (503 fast).
                if attempt >= self.retries:
                    raise UpstreamError.from_status(
                        grpc.StatusCode.UNAVAILABLE, "failed to connect to the model server"
                    )
                attempt += 1
                continue
            try:
                return method(stubs)(request, timeout=remaining, metadata=metadata)
            except grpc.RpcError as error:
                delay = self._retry_delay(error, attempt, deadline)
                if delay is None:
                    raise UpstreamError(error) from error
            time.sleep(delay)
            attempt += 1

    def _wait_until_connected(self, channel: grpc.Channel, deadline: float) -> bool:
        """Before a retry, wait briefly for the channel to (re)connect.

        After a failure the channel sits in backoff; a call made then fails at once.
        Waiting for readiness (bounded, so a server that is down still answers 503
        within a second) lets the first request after the server returns succeed.
        The call itself then gets the whole remaining deadline, so a slow model is
        not mistaken for an unreachable one.
        """
        wait = min(_RECONNECT_WAIT_SECONDS, deadline - time.monotonic())
        if wait <= 0:
            return False
        try:
            grpc.channel_ready_future(channel).result(timeout=wait)
        except grpc.FutureTimeoutError:
            return False
        return True

    def _retry_delay(self, error: grpc.RpcError, attempt: int, deadline: float) -> float | None:
        """Seconds to wait before the next attempt, or None when the error is final."""
        if attempt >= self.retries or grpc_code_of(error) is not grpc.StatusCode.UNAVAILABLE:
            return None
        # Full backoff doubles per attempt; jitter keeps many workers from retrying in step.
        delay = self.backoff_seconds * (2**attempt) * random.uniform(0.5, 1.0)
        if time.monotonic() + delay >= deadline:
            return None
        return delay
