"""OpenTelemetry over TF Serving's gRPC protocol, shared by the gateway and the model server.

Tracing is off unless OTEL_TRACES_EXPORTER names an exporter (``otlp``, ``console``, ...).
Then ``configure`` builds a TracerProvider the way the SDK's own auto-configuration does,
and the SDK reads every other OTEL_* variable itself: OTEL_SERVICE_NAME and
OTEL_RESOURCE_ATTRIBUTES (the resource), OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_* (the batch
processor), OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _PROTOCOL, _HEADERS, _TIMEOUT (the
exporter), OTEL_PROPAGATORS and OTEL_SDK_DISABLED.

While tracing is off nothing here imports OpenTelemetry and every helper is a constant:
``span()`` is a shared null context, ``current_trace_id()`` is "", channels are not wrapped.

The trace context travels to the model server in the call's gRPC metadata (W3C
``traceparent``/``tracestate``, as OpenTelemetry's own gRPC instrumentation sends it),
next to ``x-request-id``: a client interceptor opens one CLIENT span per attempt, with the
model, version and signature the request names, and injects its context.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import grpc

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

OFF = "none"
INSTRUMENTATION_NAME = "tfserving"
# Span attributes naming the model a call is for (the request's ModelSpec; the response's
# version once it answered).
MODEL_NAME = "tfserving.model.name"
MODEL_VERSION = "tfserving.model.version"
MODEL_VERSION_LABEL = "tfserving.model.version_label"
MODEL_SIGNATURE = "tfserving.model.signature_name"

_lock = threading.Lock()
_provider: TracerProvider | None = None
_tracer: Tracer | None = None
_NO_SPAN = contextlib.nullcontext()


def exporter_names(value: str) -> list[str]:
    """OTEL_TRACES_EXPORTER as a list of exporter names; empty (off) for "" or "none"."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    return [] if names in ([], [OFF]) else names


def configure(names: Sequence[str], *, service_name: str) -> TracerProvider | None:
    """Trace with the named exporters (OTEL_TRACES_EXPORTER); None if ``names`` is empty.

    ``service_name`` is the default for OTEL_SERVICE_NAME. Call it in the process that
    traces (after fork: a gRPC exporter's channel must not cross it).
    """
    if not names:
        return None
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create()  # OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    provider = TracerProvider(resource=resource)  # the sampler from OTEL_TRACES_SAMPLER
    for exporter_class in _exporter_classes(names):
        provider.add_span_processor(BatchSpanProcessor(exporter_class()))
    use(provider)
    return provider


def _exporter_classes(names: Sequence[str]) -> list[type]:
    # The SDK's own reading of OTEL_TRACES_EXPORTER (what `opentelemetry-instrument`
    # runs): "otlp" becomes the gRPC or HTTP exporter by OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL,
    # and names are looked up as the exporters' entry points. These helpers are private
    # to the SDK, so requirements.txt pins it and the tests check this choice.
    from opentelemetry.sdk._configuration import _get_exporter_entry_point, _import_exporters

    entry_points = [_get_exporter_entry_point(name, "traces") for name in names]
    span_exporters, _, _ = _import_exporters(entry_points, [], [])
    return list(span_exporters.values())


def use(provider: TracerProvider | None) -> None:
    """Trace into ``provider`` from now on (None: stop tracing). Tests pass their own."""
    global _provider, _tracer
    with _lock:
        _provider = provider
        _tracer = provider.get_tracer(INSTRUMENTATION_NAME) if provider is not None else None


def enabled() -> bool:
    return _tracer is not None


def shutdown() -> None:
    """Export the spans still queued and stop (process exit)."""
    provider = _provider
    if provider is not None:
        provider.shutdown()


def tracer() -> Tracer | None:
    return _tracer


def span(
    name: str, attributes: Mapping[str, Any] | None = None
) -> contextlib.AbstractContextManager:
    """An INTERNAL span around the block, child of the current one (a null context when off)."""
    if _tracer is None:
        return _NO_SPAN
    return _tracer.start_as_current_span(name, attributes=attributes)


def current_trace_id() -> str:
    """The current trace's id as 32 hex digits ("" when off or outside a trace)."""
    if _tracer is None:
        return ""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else ""


def current_traceparent() -> str:
    """The W3C traceparent of the current span ("" when off or outside a trace)."""
    if _tracer is None:
        return ""
    carrier: dict[str, str] = {}
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    TraceContextTextMapPropagator().inject(carrier)
    return carrier.get("traceparent", "")


def extract(carrier: Mapping[str, str]) -> Context | None:
    """The remote parent a carrier (lower-case header or metadata names) holds (None when off)."""
    if _tracer is None:
        return None
    from opentelemetry import propagate

    return propagate.extract(carrier)


def _metadata_with_context(metadata: Sequence[tuple[str, str]] | None) -> list[tuple[str, str]]:
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [*(metadata or ()), *carrier.items()]


# --- the gateway's side: a client span per call -------------------------------------------


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Sequence[tuple[str, str]] | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class _ClientInterceptor(grpc.UnaryUnaryClientInterceptor):
    """A CLIENT span per call attempt; its context goes out in the call's metadata."""

    def __init__(self, target: str) -> None:
        self._target = target

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        tracer_now = _tracer
        if tracer_now is None:  # tracing was switched off after the channel was made
            return continuation(details, request)
        from opentelemetry.trace import SpanKind, Status, StatusCode

        service, _, method = details.method.strip("/").partition("/")
        attributes = {
            "rpc.system": "grpc",
            "rpc.service": service,
            "rpc.method": method,
            "server.address": self._target,
            **_model_spec_attributes(request),
        }
        with tracer_now.start_as_current_span(
            f"{service}/{method}", kind=SpanKind.CLIENT, attributes=attributes
        ) as current:
            traced = _CallDetails(
                details.method,
                details.timeout,
                _metadata_with_context(details.metadata),
                details.credentials,
                details.wait_for_ready,
                details.compression,
            )
            outcome = continuation(traced, request)
            code = outcome.code()
            current.set_attribute("rpc.grpc.status_code", code.value[0])
            if code is grpc.StatusCode.OK:
                _note_served_version(current, outcome.result())
            else:
                current.set_status(Status(StatusCode.ERROR, f"{code.name}: {outcome.details()}"))
            return outcome


def _model_spec_attributes(message: Any) -> dict[str, Any]:
    spec = getattr(message, "model_spec", None)
    if spec is None:
        return {}
    attributes: dict[str, Any] = {MODEL_NAME: spec.name}
    if spec.signature_name:
        attributes[MODEL_SIGNATURE] = spec.signature_name
    choice = spec.WhichOneof("version_choice")
    if choice == "version":
        attributes[MODEL_VERSION] = spec.version.value
    elif choice == "version_label":
        attributes[MODEL_VERSION_LABEL] = spec.version_label
    return attributes


def _note_served_version(current: Span, response: Any) -> None:
    spec = getattr(response, "model_spec", None)
    if spec is not None and spec.HasField("version"):
        current.set_attribute(MODEL_VERSION, spec.version.value)
        if spec.signature_name:
            current.set_attribute(MODEL_SIGNATURE, spec.signature_name)


def intercept(channel: grpc.Channel, target: str) -> grpc.Channel:
    """``channel`` with a client span per call while tracing is on; unchanged when off."""
    if _tracer is None:
        return channel
    return grpc.intercept_channel(channel, _ClientInterceptor(target))


# --- the model server's side: a server span per call --------------------------------------


@contextlib.contextmanager
def server_span(
    service_and_method: str, metadata: Sequence[tuple[str, Any]], request: Any
) -> Iterator[Span | None]:
    """A SERVER span for one call, child of the caller's span named in its metadata."""
    tracer_now = _tracer
    if tracer_now is None:
        yield None
        return
    from opentelemetry.trace import SpanKind

    carrier = {key: value for key, value in metadata if isinstance(value, str)}
    service, _, method = service_and_method.partition("/")
    with tracer_now.start_as_current_span(
        service_and_method,
        context=extract(carrier),
        kind=SpanKind.SERVER,
        attributes={
            "rpc.system": "grpc",
            "rpc.service": service,
            "rpc.method": method,
            **_model_spec_attributes(request),
        },
    ) as current:
        yield current


def record_error(current: Span | None, code: grpc.StatusCode, message: str) -> None:
    """Mark a span as failed with a gRPC status (no-op without a span)."""
    if current is None:
        return
    from opentelemetry.trace import Status, StatusCode

    current.set_attribute("rpc.grpc.status_code", code.value[0])
    current.set_status(Status(StatusCode.ERROR, f"{code.name}: {message}"))


def current_context() -> Context | None:
    """The current context, to carry into another thread (None when off)."""
    if _tracer is None:
        return None
    from opentelemetry import context

    return context.get_current()
