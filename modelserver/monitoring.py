"""TF Serving's request metrics, and their Prometheus page (``--monitoring_config_file``).

Names, labels and buckets are TF Serving's (servables/tensorflow/util.cc), recorded
where it records them (http_server.cc for REST, prediction_service_impl.cc for
gRPC Predict, Classify and Regress) and written as its PrometheusExporter writes
them (util/prometheus_exporter.cc): ``/tensorflow/serving/request_count`` becomes
``:tensorflow:serving:request_count``, histograms list cumulative buckets with the
last as ``+Inf``, numbers print like absl's StrCat (``%g``). Latencies are in
microseconds and are recorded for successful requests only.

Only these two metrics exist here; TF Serving's page also carries TensorFlow's own
(model load counts and latencies, runtime latency, graph runs).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format

DEFAULT_PROMETHEUS_PATH = "/monitoring/prometheus/metrics"
REQUEST_COUNT = "/tensorflow/serving/request_count"
REQUEST_LATENCY = "/tensorflow/serving/request_latency"
REST_ENTRYPOINT = "REST"
GRPC_ENTRYPOINT = "GRPC"


def _exponential_buckets(scale: float, growth: float, count: int) -> tuple[float, ...]:
    # tensorflow/core/lib/monitoring: Buckets::Exponential(10, 1.8, 33), multiplied step by
    # step as TensorFlow does; the histogram adds DBL_MAX as the last limit.
    limits, bound = [], scale
    for _ in range(count):
        limits.append(bound)
        bound *= growth
    return (*limits, sys.float_info.max)


LATENCY_BUCKET_LIMITS = _exponential_buckets(10, 1.8, 33)


class MonitoringConfigError(ValueError):
    pass


@dataclass(frozen=True)
class PrometheusConfig:
    enable: bool = False
    path: str = DEFAULT_PROMETHEUS_PATH


def _monitoring_config_class() -> type:
    """tensorflow_serving/config/monitoring_config.proto, which tensorflow-serving-api does not
    ship, built from its two messages so the file is read by protobuf's own text parser."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="tensorflow_serving/config/monitoring_config.proto",
        package="tensorflow.serving",
        syntax="proto3",
    )
    field = descriptor_pb2.FieldDescriptorProto
    prometheus = proto.message_type.add(name="PrometheusConfig")
    prometheus.field.add(name="enable", number=1, type=field.TYPE_BOOL, label=field.LABEL_OPTIONAL)
    prometheus.field.add(name="path", number=2, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    monitoring = proto.message_type.add(name="MonitoringConfig")
    monitoring.field.add(
        name="prometheus_config",
        number=1,
        type=field.TYPE_MESSAGE,
        type_name=".tensorflow.serving.PrometheusConfig",
        label=field.LABEL_OPTIONAL,
    )
    pool = descriptor_pool.DescriptorPool()  # private: never clashes with a shipped copy
    pool.Add(proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("tensorflow.serving.MonitoringConfig")
    )


def parse_monitoring_config(text: str) -> PrometheusConfig:
    config = _monitoring_config_class()()
    try:
        text_format.Parse(text, config)
    except text_format.ParseError as error:
        raise MonitoringConfigError(f"Invalid MonitoringConfig: {error}") from None
    prometheus = config.prometheus_config
    return PrometheusConfig(prometheus.enable, prometheus.path or DEFAULT_PROMETHEUS_PATH)


def read_monitoring_config(path: Path) -> PrometheusConfig:
    try:
        text = path.read_text()
    except OSError as error:
        raise MonitoringConfigError(f"Cannot read monitoring config file {path}: {error}") from None
    return parse_monitoring_config(text)


class _Histogram:
    """TensorFlow's histogram: a value goes into the first bucket whose limit is above it."""

    def __init__(self) -> None:
        self.buckets = [0] * len(LATENCY_BUCKET_LIMITS)
        self.total = 0.0

    def add(self, value: float) -> None:
        for index, limit in enumerate(LATENCY_BUCKET_LIMITS):
            if value < limit:
                self.buckets[index] += 1
                break
        self.total += value


def _number(value: float) -> str:
    return "%g" % value  # noqa: UP031 - absl::StrCat(double) prints six significant digits


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    # TF Serving escapes backslashes and double quotes in label values, nothing else.
    return ",".join(
        '{}="{}"'.format(name, value.replace("\\", "\\\\").replace('"', '\\"'))
        for name, value in pairs
    )


class Metrics:
    """The request count and latency of every model, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self._latencies: dict[tuple[str, str, str], _Histogram] = {}

    def record(
        self, model_name: str, code: grpc.StatusCode, api: str, entrypoint: str, seconds: float
    ) -> None:
        with self._lock:
            key = (model_name, code.name)
            self._counts[key] = self._counts.get(key, 0) + 1
            if code is grpc.StatusCode.OK:
                histogram = self._latencies.setdefault((model_name, api, entrypoint), _Histogram())
                histogram.add(int(seconds * 1_000_000))

    def prometheus_page(self) -> str:
        with self._lock:
            lines = [*self._count_lines(), *self._latency_lines()]
        return "\n".join(lines) + "\n"

    def _count_lines(self) -> Iterator[str]:
        name = _prometheus_name(REQUEST_COUNT)
        yield f"# TYPE {name} counter"
        for (model_name, status), count in sorted(self._counts.items()):
            yield f"{name}{{{_labels((('model_name', model_name), ('status', status)))}}} {count}"

    def _latency_lines(self) -> Iterator[str]:
        name = _prometheus_name(REQUEST_LATENCY)
        yield f"# TYPE {name} histogram"
        for (model_name, api, entrypoint), histogram in sorted(self._latencies.items()):
            labels = _labels((("model_name", model_name), ("API", api), ("entrypoint", entrypoint)))
            cumulative = 0
            for index, count in enumerate(histogram.buckets):
                cumulative += count
                last = index == len(histogram.buckets) - 1
                limit = "+Inf" if last else _number(LATENCY_BUCKET_LIMITS[index])
                yield f'{name}_bucket{{{labels},le="{limit}"}} {cumulative}'
            yield f"{name}_sum{{{labels}}} {_number(histogram.total)}"
            yield f"{name}_count{{{labels}}} {cumulative}"


def _prometheus_name(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else ":" for c in name)


# gRPC methods TF Serving counts, and the API label it gives each.
_MEASURED_METHODS = {
    "/tensorflow.serving.PredictionService/Predict": "Predict",
    "/tensorflow.serving.PredictionService/Classify": "Classify",
    "/tensorflow.serving.PredictionService/Regress": "Regress",
}


class MetricsInterceptor(grpc.ServerInterceptor):
    """Records gRPC Predict, Classify and Regress calls (entrypoint GRPC)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        api = _MEASURED_METHODS.get(handler_call_details.method)
        if handler is None or api is None or handler.unary_unary is None:
            return handler
        behaviour = handler.unary_unary
        metrics = self._metrics

        def measured(request, context):
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                return behaviour(request, context)
            except Exception:
                code = context.code() or grpc.StatusCode.UNKNOWN  # abort() set it
                raise
            finally:
                seconds = time.perf_counter() - started
                metrics.record(request.model_spec.name, code, api, GRPC_ENTRYPOINT, seconds)

        return grpc.unary_unary_rpc_method_handler(
            measured,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
