"""TF Serving's MonitoringConfig and Prometheus page format (no server needed)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from modelserver.flags import parse_options
from modelserver.monitoring import (
    LATENCY_BUCKET_LIMITS,
    Metrics,
    MonitoringConfigError,
    PrometheusConfig,
    parse_monitoring_config,
    read_monitoring_config,
)

OK = grpc.StatusCode.OK
ROOT = Path(__file__).resolve().parents[2]


def test_tf_servings_monitoring_config_is_read():
    # testdata/monitoring_config.txt, and the one the compose stack gives TF Serving.
    tf_serving = parse_monitoring_config(
        'prometheus_config: {\n  enable: true,\n  path: "/monitoring/prometheus/metrics"\n}\n'
    )
    compose = read_monitoring_config(ROOT / "deploy" / "tfserving" / "monitoring.config")

    assert tf_serving == compose == PrometheusConfig(True, "/monitoring/prometheus/metrics")


def test_an_empty_path_is_tf_servings_default_and_an_empty_file_enables_nothing():
    assert parse_monitoring_config("prometheus_config { enable: true }") == PrometheusConfig(
        True, "/monitoring/prometheus/metrics"
    )
    assert parse_monitoring_config("") == PrometheusConfig(False)


@pytest.mark.parametrize("text", ["prometheus_config { enabled: true }", "nonsense {"])
def test_a_config_that_is_not_a_monitoring_config_is_refused(text):
    with pytest.raises(MonitoringConfigError, match="Invalid MonitoringConfig"):
        parse_monitoring_config(text)


def test_latency_buckets_are_tensorflows_exponential_10_1_8_33():
    assert len(LATENCY_BUCKET_LIMITS) == 34
    assert LATENCY_BUCKET_LIMITS[:4] == (10, 18, 32.4, 58.32)
    assert LATENCY_BUCKET_LIMITS[-1] == float("1.7976931348623157e308")


def test_the_page_is_written_as_tf_servings_prometheus_exporter_writes_it():
    metrics = Metrics()
    metrics.record("m", OK, "predict", "REST", 0.000010)  # 10 us: the bucket above 10
    metrics.record("m", OK, "predict", "REST", 0.000020)
    metrics.record("m", grpc.StatusCode.NOT_FOUND, "predict", "REST", 0.5)

    lines = metrics.prometheus_page().splitlines()

    assert lines[:4] == [
        "# TYPE :tensorflow:serving:request_count counter",
        ':tensorflow:serving:request_count{model_name="m",status="NOT_FOUND"} 1',
        ':tensorflow:serving:request_count{model_name="m",status="OK"} 2',
        "# TYPE :tensorflow:serving:request_latency histogram",
    ]
    prefix = ':tensorflow:serving:request_latency_bucket{model_name="m",API="predict",'
    assert lines[4:8] == [
        f'{prefix}entrypoint="REST",le="10"}} 0',
        f'{prefix}entrypoint="REST",le="18"}} 1',
        f'{prefix}entrypoint="REST",le="32.4"}} 2',
        f'{prefix}entrypoint="REST",le="58.32"}} 2',
    ]
    assert lines[36:] == [
        f'{prefix}entrypoint="REST",le="1.47476e+09"}} 2',
        f'{prefix}entrypoint="REST",le="+Inf"}} 2',
        ':tensorflow:serving:request_latency_sum{model_name="m",API="predict",entrypoint="REST"}'
        " 30",
        ':tensorflow:serving:request_latency_count{model_name="m",API="predict",'
        'entrypoint="REST"} 2',
    ]


def test_label_values_escape_backslashes_and_quotes():
    metrics = Metrics()
    metrics.record('a"b\\c', OK, "", "REST", 0.0)

    assert ':tensorflow:serving:request_count{model_name="a\\"b\\\\c",status="OK"} 1' in (
        metrics.prometheus_page().splitlines()
    )


def test_an_empty_registry_still_declares_its_types():
    assert Metrics().prometheus_page() == (
        "# TYPE :tensorflow:serving:request_count counter\n"
        "# TYPE :tensorflow:serving:request_latency histogram\n"
    )


def test_rest_flags_take_tf_servings_names_and_defaults():
    options, warnings = parse_options(
        [
            "--model_base_path=m",
            "--rest_api_port=8501",
            "--rest_api_num_threads=3",
            "--rest_api_timeout_in_ms=5000",
            "--rest_api_enable_cors_support=true",
            "--monitoring_config_file=monitoring.config",
        ]
    )
    defaults, _ = parse_options(["--model_base_path=m"])

    assert warnings == []
    assert (
        options.rest_api_port,
        options.rest_api_num_threads,
        options.rest_api_timeout_in_ms,
        options.rest_api_enable_cors_support,
        options.monitoring_config_file,
    ) == (8501, 3, 5000, True, "monitoring.config")
    assert (defaults.rest_api_port, defaults.rest_api_timeout_in_ms) == (0, 30_000)
    assert defaults.rest_api_bind_address == "127.0.0.1"
    assert defaults.rest_api_max_request_bytes == 32 * 1024 * 1024


def test_the_rest_port_must_differ_from_the_grpc_port(capsys):
    with pytest.raises(SystemExit) as exited:
        parse_options(["--model_base_path=m", "--port=9000", "--rest_api_port=9000"])

    assert exited.value.code == 2
    assert "http_port cannot be same as grpc_port" in capsys.readouterr().err


def test_a_monitoring_config_without_a_rest_port_is_ignored_with_a_warning():
    _, warnings = parse_options(["--model_base_path=m", "--monitoring_config_file=m.config"])

    assert warnings == [
        "--monitoring_config_file is ignored: metrics are served on the REST port, and "
        "--rest_api_port is 0"
    ]
