"""TF Serving's config files parse as the protos TF Serving reads them into.

TF Serving exits at start-up on a config it cannot parse, so these are checked here
with protobuf's own text parser against the same message definitions.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format
from tensorflow_serving.config import model_server_config_pb2

from tests.deploy.conftest import ROOT
from tfserving.batching_parameters import BatchingParameters, read_batching_parameters

TFSERVING_DIR = ROOT / "deploy" / "tfserving"
_Field = descriptor_pb2.FieldDescriptorProto


def monitoring_config_class() -> type:
    """tensorflow_serving/config/monitoring_config.proto (not in tensorflow-serving-api)."""
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="tests/deploy/monitoring_config.proto", package="tensorflow.serving"
    )
    prometheus = file_proto.message_type.add(name="PrometheusConfig")
    prometheus.field.add(name="enable", number=1, type=_Field.TYPE_BOOL)
    prometheus.field.add(name="path", number=2, type=_Field.TYPE_STRING)
    monitoring = file_proto.message_type.add(name="MonitoringConfig")
    monitoring.field.add(
        name="prometheus_config",
        number=1,
        type=_Field.TYPE_MESSAGE,
        type_name=".tensorflow.serving.PrometheusConfig",
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("tensorflow.serving.MonitoringConfig")
    )


def read_model_server_config(path: Path) -> model_server_config_pb2.ModelServerConfig:
    return text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())


def test_tfserving_models_config_uses_absolute_base_paths_under_models() -> None:
    config = read_model_server_config(TFSERVING_DIR / "models.config")

    assert [(c.name, c.base_path) for c in config.model_config_list.config] == [
        ("half_plus_two", "/models/half_plus_two"),
        ("iris", "/models/iris"),
        ("sentiment", "/models/sentiment"),
        ("digits", "/models/digits"),
    ]


def test_tfserving_models_config_equals_models_config_but_for_absolute_paths() -> None:
    shared = read_model_server_config(ROOT / "models" / "models.config")
    for model in shared.model_config_list.config:
        assert not model.base_path.startswith("/"), "models/models.config is relative"
        model.base_path = f"/{model.base_path}"

    assert read_model_server_config(TFSERVING_DIR / "models.config") == shared


def test_batching_parameters_parse_with_tf_servings_rules() -> None:
    parameters = read_batching_parameters(TFSERVING_DIR / "batching_parameters.txt")

    assert parameters == BatchingParameters(
        max_batch_size=128,
        batch_timeout_micros=2000,
        max_enqueued_batches=100,
        num_batch_threads=4,
    )


def test_monitoring_config_enables_prometheus_at_the_documented_path() -> None:
    config = text_format.Parse(
        (TFSERVING_DIR / "monitoring.config").read_text(), monitoring_config_class()()
    )

    assert config.prometheus_config.enable is True
    assert config.prometheus_config.path == "/monitoring/prometheus/metrics"


def test_monitoring_config_parser_rejects_an_unknown_field() -> None:
    with pytest.raises(text_format.ParseError, match="enabled"):
        text_format.Parse("prometheus_config { enabled: true }", monitoring_config_class()())
