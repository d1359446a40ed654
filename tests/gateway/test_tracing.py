"""OpenTelemetry tracing: one trace from the client's traceparent through the gateway and the
gRPC call into the model server's own spans; nothing at all while it is off."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id
from rest_framework.test import APIClient

from predictions.inference import upstream
from predictions.models import AuditRecord
from tests.gateway.conftest import access_token
from tests.support.otlp_collector import CollectedSpan, otlp_collector
from tests.support.processes import ROOT, model_server
from tfserving import tracing

pytestmark = pytest.mark.django_db

CLIENT_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN_ID = "00f067aa0ba902b7"
CLIENT_TRACEPARENT = f"00-{CLIENT_TRACE_ID}-{CLIENT_SPAN_ID}-01"
PREDICT = "/v1/models/half_plus_two:predict"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The gateway traces into memory for the test (the SDK's in-memory exporter)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    upstream.reset()  # the next channel is made while tracing (with the interceptor)
    yield exporter
    tracing.use(None)
    upstream.reset()


@pytest.fixture(scope="module")
def traced_model_server() -> Iterator[tuple[str, object]]:
    """A model server that traces (with batching) into a local OTLP collector."""
    with otlp_collector() as collector:
        env = {
            **os.environ,
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "50",
        }
        args = [
            "--model_name=half_plus_two",
            f"--model_base_path={ROOT / 'models' / 'half_plus_two'}",
            "--enable_batching",
        ]
        with model_server(args, env=env) as server:
            yield server.address, collector


def by_name(finished: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in finished}


def test_one_trace_runs_from_the_clients_traceparent_into_the_model_servers_spans(
    alice, settings, spans: InMemorySpanExporter, traced_model_server: tuple[str, object]
) -> None:
    address, collector = traced_model_server
    settings.TFSERVING_ADDRESS = address
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(alice)}")

    response = client.post(
        PREDICT,
        {"instances": [1.0, 2.0]},
        format="json",
        HTTP_TRACEPARENT=CLIENT_TRACEPARENT,
        HTTP_X_REQUEST_ID="traced-1",
    )

    assert response.status_code == 200
    gateway = by_name(spans.get_finished_spans())
    http = gateway["POST /v1/models/{name}:predict"]
    predict_call = gateway["tensorflow.serving.PredictionService/Predict"]
    assert {format_trace_id(span.context.trace_id) for span in gateway.values()} == {
        CLIENT_TRACE_ID
    }
    assert (http.kind, format_span_id(http.parent.span_id)) == (SpanKind.SERVER, CLIENT_SPAN_ID)
    assert http.attributes["gateway.request_id"] == response["X-Request-ID"]
    assert http.attributes["http.response.status_code"] == 200
    for name in ("authenticate", "validate", "audit"):
        assert gateway[name].parent.span_id == http.context.span_id, name
    assert predict_call.kind == SpanKind.CLIENT
    assert (
        dict(predict_call.attributes).items()
        >= {
            "rpc.system": "grpc",
            "tfserving.model.name": "half_plus_two",
            "tfserving.model.version": 2,
            "tfserving.model.signature_name": "serving_default",
            "rpc.grpc.status_code": 0,
        }.items()
    )

    call_span_id = format_span_id(predict_call.context.span_id)

    def model_server_spans_arrived(collected: list[CollectedSpan]) -> bool:
        return {"modelserver.batch", "modelserver.run"} <= {
            span.name for span in collected if span.trace_id == CLIENT_TRACE_ID
        }

    received = {
        span.name: span
        for span in collector.wait_for(model_server_spans_arrived)
        if span.trace_id == CLIENT_TRACE_ID
    }
    server = received["tensorflow.serving.PredictionService/Predict"]
    assert (server.service, server.parent_span_id) == ("tfserving-modelserver", call_span_id)
    assert server.attributes["tfserving.model.name"] == "half_plus_two"
    batch = received["modelserver.batch"]
    assert batch.parent_span_id == server.span_id
    assert batch.links == ((CLIENT_TRACE_ID, server.span_id),)
    assert received["modelserver.run"].parent_span_id == batch.span_id
    assert received["modelserver.run"].attributes["tfserving.model.version"] == 2


def test_the_model_server_records_its_model_load_in_a_span(
    traced_model_server: tuple[str, object],
) -> None:
    _, collector = traced_model_server

    collected = collector.wait_for(
        lambda spans: any(span.name == "modelserver.load" for span in spans)
    )

    [load] = [span for span in collected if span.name == "modelserver.load"]
    assert load.parent_span_id == ""  # loads happen outside any call: a trace of their own
    assert load.attributes == {
        "tfserving.model.name": "half_plus_two",
        "tfserving.model.version": 2,  # a single --model_base_path serves the latest only
        "modelserver.path": str(ROOT / "models" / "half_plus_two" / "2"),
    }


def test_the_audit_record_keeps_the_trace_id_beside_the_request_id(
    gateway: APIClient, spans: InMemorySpanExporter
) -> None:
    gateway.post(PREDICT, {"instances": [1.0]}, format="json", HTTP_TRACEPARENT=CLIENT_TRACEPARENT)

    record = AuditRecord.objects.get()
    assert (record.trace_id, len(record.request_id)) == (CLIENT_TRACE_ID, 32)


def test_without_a_traceparent_the_gateway_starts_a_trace_of_its_own(
    gateway: APIClient, spans: InMemorySpanExporter
) -> None:
    gateway.post(PREDICT, {"instances": [1.0]}, format="json")

    record = AuditRecord.objects.get()
    http = by_name(spans.get_finished_spans())["POST /v1/models/{name}:predict"]
    assert http.parent is None
    assert record.trace_id == format_trace_id(http.context.trace_id)


def test_while_tracing_is_off_no_span_and_no_trace_id_is_recorded(gateway: APIClient) -> None:
    gateway.post(PREDICT, {"instances": [1.0]}, format="json", HTTP_TRACEPARENT=CLIENT_TRACEPARENT)

    assert AuditRecord.objects.get().trace_id == ""
    assert not tracing.enabled()


def test_tracing_is_off_unless_otel_traces_exporter_names_an_exporter() -> None:
    assert tracing.exporter_names("") == []
    assert tracing.exporter_names("none") == []
    assert tracing.exporter_names("otlp, console") == ["otlp", "console"]


@pytest.mark.parametrize(
    ("protocol", "module"),
    [
        ("", "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"),
        ("grpc", "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"),
        ("http/protobuf", "opentelemetry.exporter.otlp.proto.http.trace_exporter"),
    ],
)
def test_otlp_means_the_exporter_of_otel_exporter_otlp_protocol(
    monkeypatch: pytest.MonkeyPatch, protocol: str, module: str
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)

    [exporter] = tracing._exporter_classes(["otlp"])

    assert (exporter.__module__, exporter.__name__) == (module, "OTLPSpanExporter")


def test_configure_reads_the_service_name_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "gateway-eu-1")
    try:
        named = tracing.configure(["console"], service_name="tfserving-gateway")
        monkeypatch.delenv("OTEL_SERVICE_NAME")
        default = tracing.configure(["console"], service_name="tfserving-gateway")
    finally:
        tracing.use(None)
    named.shutdown()
    default.shutdown()

    assert named.resource.attributes["service.name"] == "gateway-eu-1"
    assert default.resource.attributes["service.name"] == "tfserving-gateway"


def test_log_lines_carry_the_trace_id_beside_the_request_id(
    spans: InMemorySpanExporter,
) -> None:
    import logging

    from serving_project.log_format import JsonFormatter, RequestIdFilter

    record = logging.LogRecord("gateway.test", logging.INFO, __file__, 1, "model slow", (), None)
    with tracing.span("work") as span:
        RequestIdFilter().filter(record)
        line = json.loads(JsonFormatter().format(record))

    assert record.trace_id == format_trace_id(span.get_span_context().trace_id)
    assert line["trace_id"] == record.trace_id
