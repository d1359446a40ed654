"""The model server's OpenTelemetry spans: each call, model loads, batches and model runs.

Off unless OTEL_TRACES_EXPORTER names an exporter, as for the gateway; the SDK reads every
other OTEL_* variable (tfserving/tracing.py). A call's SERVER span continues the trace
whose context the caller sent in the gRPC metadata (``traceparent``), so a request through
the gateway is one trace from its HTTP span to the model run. A batch runs in a batching
thread for several calls at once: its span is a child of the first call's and links to
every call it merged. Loads happen outside any call and start traces of their own.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import grpc

from modelserver import errors
from tfserving import tracing

SERVICE_NAME = "tfserving-modelserver"  # OTEL_SERVICE_NAME's default
PACKAGE = "tensorflow.serving"

_Result = TypeVar("_Result")


def configure_from_environment() -> None:
    """Trace if OTEL_TRACES_EXPORTER says so (the rest is read by the SDK)."""
    tracing.configure(
        tracing.exporter_names(os.environ.get("OTEL_TRACES_EXPORTER", "")),
        service_name=SERVICE_NAME,
    )


def shutdown() -> None:
    tracing.shutdown()


@contextlib.contextmanager
def call_span(
    service: str, method: str, context: grpc.ServicerContext, request: object
) -> Iterator[None]:
    """The SERVER span of one call; a failure is recorded with the status it will answer."""
    if not tracing.enabled():
        yield
        return
    with tracing.server_span(
        f"{PACKAGE}.{service}/{method}", context.invocation_metadata(), request
    ) as span:
        try:
            yield
        except Exception as caught:
            error = errors.from_exception(caught)
            tracing.record_error(span, error.code, error.message)
            raise


def current_context() -> object:
    """The calling thread's trace context, for a batch run in another thread (None: off)."""
    return tracing.current_context()


def traced_load(load: Callable[[str, int, Path], _Result]) -> Callable[[str, int, Path], _Result]:
    """``load(name, version, path)`` (a servable's load) in a span of its own."""

    @functools.wraps(load)
    def traced(name: str, version: int, path: Path) -> _Result:
        with tracing.span(
            "modelserver.load",
            {
                tracing.MODEL_NAME: name,
                tracing.MODEL_VERSION: version,
                "modelserver.path": str(path),
            },
        ):
            return load(name, version, path)

    return traced


def traced_run(run: Callable[..., _Result]) -> Callable[..., _Result]:
    """For ``Servable.run(feeds, fetches)``: the model run's span, named for the signature
    whose tensors it feeds and fetches."""

    @functools.wraps(run)
    def traced(servable: Any, feeds: Mapping, fetches: Sequence[str]) -> _Result:
        if not tracing.enabled():
            return run(servable, feeds, fetches)
        with tracing.span(
            "modelserver.run",
            {
                tracing.MODEL_NAME: servable.name,
                tracing.MODEL_VERSION: servable.version,
                tracing.MODEL_SIGNATURE: servable.signature_key_for(feeds, fetches) or "",
                "modelserver.batch_size": _batch_size(feeds),
            },
        ):
            return run(servable, feeds, fetches)

    return traced


def _batch_size(inputs: Mapping) -> int:
    for value in inputs.values():
        shape = getattr(value, "shape", ())
        return int(shape[0]) if shape else 1
    return 0


def batch_span(
    task_contexts: Sequence[object], label: str, size: int, padded_size: int
) -> contextlib.AbstractContextManager:
    """The span of one merged batch (in a batching thread), linked to each of its calls."""
    tracer = tracing.tracer()
    if tracer is None:
        return contextlib.nullcontext()
    from opentelemetry import trace

    span_contexts = [
        trace.get_current_span(task_context).get_span_context()
        for task_context in task_contexts
        if task_context is not None
    ]
    return tracer.start_as_current_span(
        "modelserver.batch",
        context=next((c for c in task_contexts if c is not None), None),
        links=[trace.Link(context) for context in span_contexts if context.is_valid],
        attributes={
            "modelserver.batch.queue": label,
            "modelserver.batch.tasks": len(task_contexts),
            "modelserver.batch.size": size,
            "modelserver.batch.padded_size": padded_size,
        },
    )
