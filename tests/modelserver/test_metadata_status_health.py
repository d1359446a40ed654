"""GetModelMetadata, GetModelStatus and the grpc.health.v1 service."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2

from tests.modelserver.requests import metadata_request, status_request

State = get_model_status_pb2.ModelVersionStatus.State


def saved_signature_defs(version_dir: Path) -> dict:
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((version_dir / "saved_model.pb").read_bytes())
    return dict(saved_model.meta_graphs[0].signature_def)


def call_error(call, request) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call(request)
    return caught.value.code(), caught.value.details()


def test_metadata_packs_the_savedmodel_signature_defs(prediction, models_dir):
    response = prediction.GetModelMetadata(metadata_request("examples"))

    signature_map = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(signature_map)
    assert dict(signature_map.signature_def) == saved_signature_defs(models_dir / "examples" / "1")
    assert response.model_spec.name == "examples"
    assert response.model_spec.version.value == 1
    assert response.model_spec.signature_name == ""


def test_metadata_is_packed_as_a_signature_def_map(prediction):
    response = prediction.GetModelMetadata(metadata_request("half_plus_two"))

    assert response.metadata["signature_def"].type_url == (
        "type.googleapis.com/tensorflow.serving.SignatureDefMap"
    )


def test_metadata_of_the_classification_signature_keeps_its_method(prediction):
    response = prediction.GetModelMetadata(metadata_request("examples"))
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signature_map)

    classification = signature_map.signature_def["classification"]
    assert classification.method_name == "tensorflow/serving/classify"
    assert sorted(classification.outputs) == ["classes", "scores"]


@pytest.mark.parametrize(("label", "version"), [("stable", 1), ("canary", 2), (None, 2)])
def test_metadata_resolves_labels_and_latest(prediction, label, version):
    response = prediction.GetModelMetadata(metadata_request("half_plus_two", label=label))

    assert response.model_spec.version.value == version


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (
            metadata_request("nope"),
            grpc.StatusCode.NOT_FOUND,
            "Servable not found for request: Latest(nope)",
        ),
        (
            metadata_request("half_plus_two", version=9),
            grpc.StatusCode.NOT_FOUND,
            "Servable not found for request: Specific(half_plus_two, 9)",
        ),
        (
            get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "Missing ModelSpec",
        ),
        (
            get_model_metadata_pb2.GetModelMetadataRequest(
                model_spec=metadata_request("half_plus_two").model_spec
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "GetModelMetadataRequest must specify at least one metadata_field",
        ),
        (
            get_model_metadata_pb2.GetModelMetadataRequest(
                model_spec=metadata_request("half_plus_two").model_spec,
                metadata_field=["signature_def", "graph"],
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "Metadata field graph is not supported",
        ),
    ],
    ids=["unknown-model", "unknown-version", "no-spec", "no-field", "unsupported-field"],
)
def test_metadata_errors_match_tf_serving(prediction, request_, code, message):
    assert call_error(prediction.GetModelMetadata, request_) == (code, message)


def test_status_lists_every_version_available_and_ok(models):
    response = models.GetModelStatus(status_request("half_plus_two"))

    assert [(s.version, s.state) for s in response.model_version_status] == [
        (1, State.AVAILABLE),
        (2, State.AVAILABLE),
    ]
    assert all(s.status.error_code == 0 for s in response.model_version_status)
    assert all(s.status.error_message == "" for s in response.model_version_status)


def test_status_of_one_version(models):
    response = models.GetModelStatus(status_request("half_plus_two", version=1))

    assert [(s.version, s.state) for s in response.model_version_status] == [(1, State.AVAILABLE)]


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (
            status_request("nope"),
            grpc.StatusCode.NOT_FOUND,
            "Could not find any versions of model nope",
        ),
        (
            status_request("half_plus_two", version=3),
            grpc.StatusCode.NOT_FOUND,
            "Could not find version 3 of model half_plus_two",
        ),
        (
            get_model_status_pb2.GetModelStatusRequest(),
            grpc.StatusCode.INVALID_ARGUMENT,
            "Missing ModelSpec",
        ),
    ],
    ids=["unknown-model", "unknown-version", "no-spec"],
)
def test_status_errors_match_tf_serving(models, request_, code, message):
    assert call_error(models.GetModelStatus, request_) == (code, message)


@pytest.mark.parametrize(
    "service", ["", "tensorflow.serving.PredictionService", "tensorflow.serving.ModelService"]
)
def test_health_is_serving_once_models_are_loaded(channel, service):
    reply = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service)
    )

    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_start_up_log_names_each_available_version_then_the_port(server, models_dir):
    lines = (models_dir / "server.log").read_text().splitlines()
    available = [line for line in lines if line.endswith(": AVAILABLE")]
    running = [i for i, line in enumerate(lines) if "Running gRPC ModelServer at" in line]

    assert sorted(line.split("] ", 1)[1] for line in available) == [
        "Successfully loaded servable version {name: examples version: 1}: AVAILABLE",
        "Successfully loaded servable version {name: half_plus_two version: 1}: AVAILABLE",
        "Successfully loaded servable version {name: half_plus_two version: 2}: AVAILABLE",
        "Successfully loaded servable version {name: slow version: 1}: AVAILABLE",
    ]
    assert lines[running[0]].endswith(f"Running gRPC ModelServer at 127.0.0.1:{server.port} ...")
    assert running[0] > max(lines.index(line) for line in available)
