"""A gRPC proxy in front of the model server that holds one model's Predict calls.

Every call is forwarded as bytes to the real model server, except Predict calls for
the frozen model: those wait (counted in ``held``) until ``release()``, then go on.
It stands for a model that hangs while the rest of the model server stays healthy,
which stopping the model server process cannot show (that freezes every model).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent import futures

import grpc

from tfserving.protos import predict_pb2

PREDICT = "/tensorflow.serving.PredictionService/Predict"


class FreezingProxy:
    def __init__(self, upstream: str, frozen_model: str) -> None:
        self.frozen_model = frozen_model
        self.address = ""
        self._channel = grpc.insecure_channel(upstream)
        self._released = threading.Event()
        self._changed = threading.Condition()
        self.held = 0

    def wait_until_held(self, count: int, timeout: float) -> int:
        """Waits until ``count`` calls are held (or ``timeout`` passes); how many are."""
        with self._changed:
            self._changed.wait_for(lambda: self.held >= count, timeout=timeout)
            return self.held

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self.release()
        self._channel.close()

    def forward(self, method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        if method == PREDICT and self._is_frozen(request):
            with self._changed:
                self.held += 1
                self._changed.notify_all()
            self._released.wait()
            with self._changed:
                self.held -= 1
        try:
            return self._channel.unary_unary(method)(request, timeout=context.time_remaining())
        except grpc.RpcError as error:
            context.abort(error.code(), error.details())

    def _is_frozen(self, request: bytes) -> bool:
        return predict_pb2.PredictRequest.FromString(request).model_spec.name == self.frozen_model


class _Handler(grpc.GenericRpcHandler):
    def __init__(self, proxy: FreezingProxy) -> None:
        self.proxy = proxy

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = details.method
        return grpc.unary_unary_rpc_method_handler(
            lambda request, context: self.proxy.forward(method, request, context)
        )


@contextlib.contextmanager
def freezing_proxy(upstream: str, frozen_model: str) -> Iterator[FreezingProxy]:
    """The proxy on a free 127.0.0.1 port until the block ends (held calls then go on)."""
    proxy = FreezingProxy(upstream, frozen_model)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    server.add_generic_rpc_handlers((_Handler(proxy),))
    port = server.add_insecure_port("127.0.0.1:0")
    proxy.address = f"127.0.0.1:{port}"
    server.start()
    try:
        yield proxy
    finally:
        proxy.release()
        server.stop(grace=1).wait()
        proxy.close()
