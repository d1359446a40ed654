"""A local OTLP/gRPC trace collector: what a process under test exports its spans to."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from tests.support.processes import free_port


@dataclass(frozen=True)
class CollectedSpan:
    """One received span, with ids as hex, as the SDK's ReadableSpan formats them."""

    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict[str, object]
    links: tuple[tuple[str, str], ...]  # (trace id, span id)


def _value(any_value: object) -> object:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans: list[CollectedSpan] = []
        self.changed = threading.Condition()

    def Export(self, request, context):
        received = []
        for resource_spans in request.resource_spans:
            attributes = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        CollectedSpan(
                            service=str(attributes.get("service.name", "")),
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            kind=span.kind,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            links=tuple((k.trace_id.hex(), k.span_id.hex()) for k in span.links),
                        )
                    )
        with self.changed:
            self.spans.extend(received)
            self.changed.notify_all()
        return trace_service_pb2.ExportTraceServiceResponse()


@dataclass
class OtlpCollector:
    endpoint: str  # http://127.0.0.1:port, as OTEL_EXPORTER_OTLP_ENDPOINT takes it
    _service: _TraceService

    def wait_for(
        self, condition: Callable[[list[CollectedSpan]], bool], timeout: float = 30.0
    ) -> list[CollectedSpan]:
        """The spans received so far, once ``condition`` holds for them (TimeoutError if not)."""
        deadline = time.monotonic() + timeout
        with self._service.changed:
            while not condition(self._service.spans):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"collected spans: {self._service.spans}")
                self._service.changed.wait(remaining)
            return list(self._service.spans)


@contextlib.contextmanager
def otlp_collector() -> Iterator[OtlpCollector]:
    service = _TraceService()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(service, server)
    port = free_port()
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    try:
        yield OtlpCollector(endpoint=f"http://127.0.0.1:{port}", _service=service)
    finally:
        server.stop(grace=None)
