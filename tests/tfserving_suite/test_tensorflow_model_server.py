"""TF Serving's own gRPC test cases (tensorflow_model_server_test.py), against our model server.

Each test is one of TF Serving's, named after it, with its requests and expected values,
run on the test models of models/testdata (the same kinds of model TF Serving's testdata
holds). Cases that TF Serving's file does not have but its test models imply are marked
so. Not here: the REST API, Prometheus and --grpc_channel_arguments cases, the Unix socket
case (--grpc_socket_path), TF Lite, the profiler service and TF Text (see modelserver/README.md).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from tests.support.processes import ROOT
from tests.tfserving_suite.servers import (
    BAD_MODEL_CONFIG,
    GOOD_MODEL_CONFIG,
    HALF_PLUS_THREE,
    HALF_PLUS_TWO,
    HALF_PLUS_TWO_2_VERSIONS,
    HALF_PLUS_TWO_TF2,
    failed_start,
    model_version,
)

RPC_TIMEOUT = 20.0
DEFAULT_SIGNATURE = "serving_default"
BASE_CONFIG = """
model_config_list: {{
  config: {{
    name: "{name}",
    base_path: "{model_path}",
    model_platform: "tensorflow"
  }}
}}
"""
State = get_model_status_pb2.ModelVersionStatus.State


def prediction_stub(address: str) -> prediction_service_pb2_grpc.PredictionServiceStub:
    return prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(address))


def verify_model_spec(model_spec, name: str, signature_name: str, version: int) -> None:
    assert (model_spec.name, model_spec.signature_name, model_spec.version.value) == (
        name,
        signature_name,
        version,
    )


def verify_predict_request(
    address: str,
    expected_output: float,
    expected_version: int,
    model_name: str = "default",
    specify_output: bool = True,
    batch_input: bool = False,
    signature_name: str = DEFAULT_SIGNATURE,
    input_alias: str = "x",
    output_alias: str = "y",
) -> None:
    """TF Serving's VerifyPredictRequest: x = 2.0 as a [1] tensor ([1, 1] with batch_input),
    one float back."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    request.inputs[input_alias].dtype = types_pb2.DT_FLOAT
    request.inputs[input_alias].float_val.append(2.0)
    request.inputs[input_alias].tensor_shape.dim.add().size = 1
    if batch_input:
        request.inputs[input_alias].tensor_shape.dim.add().size = 1
    if specify_output:
        request.output_filter.append(output_alias)

    result = prediction_stub(address).Predict(request, RPC_TIMEOUT)

    assert output_alias in result.outputs
    assert result.outputs[output_alias].dtype == types_pb2.DT_FLOAT
    assert list(result.outputs[output_alias].float_val) == [expected_output]
    verify_model_spec(result.model_spec, model_name, signature_name, expected_version)


def eventually(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        time.sleep(0.2)


def serves_half_plus_three(address: str) -> bool:
    try:
        verify_predict_request(
            address, 4.0, 123, model_name="half_plus_three", specify_output=False
        )
    except grpc.RpcError:
        return False
    return True


# ---- ModelService and metadata -------------------------------------------------------------


def test_get_model_status(model_servers):
    """testGetModelStatus."""
    address = model_servers.run("default", HALF_PLUS_TWO).address
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "default"

    result = model_service_pb2_grpc.ModelServiceStub(grpc.insecure_channel(address)).GetModelStatus(
        request, RPC_TIMEOUT
    )

    assert len(result.model_version_status) == 1
    assert result.model_version_status[0].version == 123
    assert result.model_version_status[0].state == State.AVAILABLE
    assert result.model_version_status[0].status.error_code == 0


def test_get_model_metadata(model_servers):
    """testGetModelMetadata."""
    address = model_servers.run("default", HALF_PLUS_TWO).address
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "default"
    request.metadata_field.append("signature_def")

    result = prediction_stub(address).GetModelMetadata(request, RPC_TIMEOUT)

    assert result.model_spec.name == "default"
    assert result.model_spec.version.value == model_version(HALF_PLUS_TWO)
    assert list(result.metadata) == ["signature_def"]


# ---- Classify, Regress, MultiInference on the TF1 and the TF2 model -------------------------

TF1_AND_TF2 = pytest.mark.parametrize(
    "model_path", [HALF_PLUS_TWO, HALF_PLUS_TWO_TF2], ids=["tf1", "tf2"]
)


@TF1_AND_TF2
def test_classify(model_servers, model_path: Path):
    """testClassify, testClassifyTf2 (the TF2 signature has the predict method name)."""
    address = model_servers.run("default", model_path).address
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "default"
    request.model_spec.signature_name = "classify_x_to_y"
    example = request.input.example_list.examples.add()
    example.features.feature["x"].float_list.value.extend([2.0])

    result = prediction_stub(address).Classify(request, RPC_TIMEOUT)

    assert len(result.result.classifications) == 1
    assert len(result.result.classifications[0].classes) == 1
    assert result.result.classifications[0].classes[0].score == 3.0
    verify_model_spec(result.model_spec, "default", "classify_x_to_y", model_version(model_path))


@TF1_AND_TF2
def test_regress(model_servers, model_path: Path):
    """testRegress, testRegressTf2."""
    address = model_servers.run("default", model_path).address
    request = regression_pb2.RegressionRequest()
    request.model_spec.name = "default"
    request.model_spec.signature_name = "regress_x_to_y"
    example = request.input.example_list.examples.add()
    example.features.feature["x"].float_list.value.extend([2.0])

    result = prediction_stub(address).Regress(request, RPC_TIMEOUT)

    assert len(result.result.regressions) == 1
    assert result.result.regressions[0].value == 3.0
    verify_model_spec(result.model_spec, "default", "regress_x_to_y", model_version(model_path))


@TF1_AND_TF2
def test_multi_inference(model_servers, model_path: Path):
    """testMultiInference, testMultiInferenceTf2."""
    address = model_servers.run("default", model_path).address
    request = inference_pb2.MultiInferenceRequest()
    for signature, method in (
        ("regress_x_to_y", "tensorflow/serving/regress"),
        ("classify_x_to_y", "tensorflow/serving/classify"),
    ):
        task = request.tasks.add(method_name=method)
        task.model_spec.name = "default"
        task.model_spec.signature_name = signature
    example = request.input.example_list.examples.add()
    example.features.feature["x"].float_list.value.extend([2.0])

    result = prediction_stub(address).MultiInference(request, RPC_TIMEOUT)

    assert len(result.results) == 2
    assert result.results[0].regression_result.regressions[0].value == 3.0
    assert result.results[1].classification_result.classifications[0].classes[0].score == 3.0
    for task, task_result in zip(request.tasks, result.results, strict=True):
        verify_model_spec(
            task_result.model_spec,
            task.model_spec.name,
            task.model_spec.signature_name,
            model_version(model_path),
        )


# ---- Predict -------------------------------------------------------------------------------


@TF1_AND_TF2
def test_predict_saved_model(model_servers, model_path: Path):
    """testPredictSavedModel (TF Serving's _TestPredict); the TF2 model is not in TF Serving's
    file. x is fed as a [1] tensor: the TF1 signature says [-1, 1], TF Serving runs it."""
    address = model_servers.run("default", model_path).address
    version = model_version(model_path)

    verify_predict_request(address, expected_output=3.0, expected_version=version)
    verify_predict_request(
        address, expected_output=3.0, expected_version=version, specify_output=False
    )


def test_predict_two_versions_serves_the_latest(model_servers):
    """Not in TF Serving's file: its two-version test model (saved_model_half_plus_two_2_versions)
    under the default policy, latest only; here version 124 computes 0.5 x + 3."""
    address = model_servers.run("default", HALF_PLUS_TWO_2_VERSIONS).address
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "default"
    request.model_spec.version.value = 123
    request.inputs["x"].CopyFrom(tf.make_tensor_proto([[2.0]], tf.float32))

    verify_predict_request(address, expected_output=4.0, expected_version=124)
    with pytest.raises(grpc.RpcError) as caught:
        prediction_stub(address).Predict(request, RPC_TIMEOUT)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "Servable not found for request: Specific(default, 123)"


# ---- model config files --------------------------------------------------------------------


def test_good_model_config(model_servers, tmp_path_factory):
    """testGoodModelConfig: half_plus_three is a SavedModel in TensorFlow 1.0's dialect."""
    config_file = tmp_path_factory.mktemp("good_config") / "good_model_config.conf"
    config_file.write_text(
        GOOD_MODEL_CONFIG.format(half_plus_two=HALF_PLUS_TWO, half_plus_three=HALF_PLUS_THREE)
    )
    address = model_servers.run(None, None, model_config_file=config_file).address

    for specify_output in (True, False):
        verify_predict_request(
            address,
            model_name="half_plus_two",
            expected_output=3.0,
            expected_version=model_version(HALF_PLUS_TWO),
            specify_output=specify_output,
        )
        verify_predict_request(
            address,
            model_name="half_plus_three",
            expected_output=4.0,
            expected_version=model_version(HALF_PLUS_THREE),
            specify_output=specify_output,
        )


LABELLED_TWO_VERSIONS = """
model_config_list: {{
  config: {{
    name: "default",
    base_path: "{model_path}",
    model_platform: "tensorflow",
    version_labels: {{ key: "stable", value: 124 }},
    version_labels: {{ key: "next", value: 123 }}
  }}
}}
"""


def test_version_labels_for_unavailable_models_at_start_up(model_servers, tmp_path):
    """Not in TF Serving's file: server_core.cc's UpdateModelVersionLabelMap. The latest
    policy loads 124 only; with --allow_version_labels_for_unavailable_models the new label
    on 123 is accepted, and a request on it finds no servable."""
    config_file = tmp_path / "labelled.conf"
    config_file.write_text(LABELLED_TWO_VERSIONS.format(model_path=HALF_PLUS_TWO_2_VERSIONS))
    address = model_servers.run(
        None,
        None,
        model_config_file=config_file,
        args=["--allow_version_labels_for_unavailable_models=true"],
    ).address
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "default"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto([[2.0]], tf.float32))

    request.model_spec.version_label = "stable"
    result = prediction_stub(address).Predict(request, RPC_TIMEOUT)
    assert (list(result.outputs["y"].float_val), result.model_spec.version.value) == ([4.0], 124)
    request.model_spec.version_label = "next"
    with pytest.raises(grpc.RpcError) as caught:
        prediction_stub(address).Predict(request, RPC_TIMEOUT)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "Servable not found for request: Specific(default, 123)"


def test_a_label_on_an_unavailable_version_stops_start_up_without_the_flag(tmp_path):
    config_file = tmp_path / "labelled.conf"
    config_file.write_text(LABELLED_TWO_VERSIONS.format(model_path=HALF_PLUS_TWO_2_VERSIONS))

    completed = failed_start(None, None, model_config_file=config_file)

    assert completed.returncode == 1
    assert (
        "Failed to start server. Error: FAILED_PRECONDITION: Request to assign label to "
        "version 123 of model default, which is not currently available for inference"
        in completed.stderr
    )


def test_bad_model_config(tmp_path):
    """testBadModelConfig."""
    config_file = tmp_path / "bad_model_config.txt"
    config_file.write_text(BAD_MODEL_CONFIG)

    completed = failed_start(None, None, model_config_file=config_file)

    assert completed.returncode == 1
    assert "Error parsing text-format tensorflow.serving.ModelServerConfig" in completed.stderr
    # The rest of what TF Serving prints: the parser's position and reason, then the status.
    assert (
        "Error parsing text-format tensorflow.serving.ModelServerConfig: 1:1: Message type "
        '"tensorflow.serving.ModelServerConfig" has no field named "improperly".'
        in completed.stderr
    )
    assert (
        f"Failed to start server. Error: INVALID_ARGUMENT: Invalid protobuf file: '{config_file}'"
        in completed.stderr
    )


def test_model_config_reload(model_servers, tmp_path_factory):
    """testModelConfigReload: the config file is polled every second."""
    config_path = tmp_path_factory.mktemp("reload") / "model_config.txt"
    config_path.write_text(BASE_CONFIG.format(name="half_plus_two", model_path=HALF_PLUS_TWO))
    address = model_servers.run(
        None, None, model_config_file=config_path, model_config_file_poll_period=1
    ).address
    verify_predict_request(
        address,
        model_name="half_plus_two",
        expected_output=3.0,
        specify_output=False,
        expected_version=model_version(HALF_PLUS_TWO),
    )

    config_path.write_text(BASE_CONFIG.format(name="half_plus_three", model_path=HALF_PLUS_THREE))

    # TF Serving's test sleeps 10 s and then checks; this checks until the reload happened.
    eventually(lambda: serves_half_plus_three(address))
    verify_predict_request(
        address,
        model_name="half_plus_three",
        expected_output=4.0,
        specify_output=False,
        expected_version=model_version(HALF_PLUS_THREE),
    )


def test_model_config_reload_with_zero_poll_period(model_servers, tmp_path_factory):
    """testModelConfigReloadWithZeroPollPeriod: 0 reads the file once."""
    config_path = tmp_path_factory.mktemp("no_reload") / "model_config.txt"
    config_path.write_text(BASE_CONFIG.format(name="half_plus_two", model_path=HALF_PLUS_TWO))
    poll_period = 0
    address = model_servers.run(
        None, None, model_config_file=config_path, model_config_file_poll_period=poll_period
    ).address
    verify_predict_request(
        address,
        model_name="half_plus_two",
        expected_output=3.0,
        specify_output=False,
        expected_version=model_version(HALF_PLUS_TWO),
    )

    config_path.write_text(BASE_CONFIG.format(name="half_plus_three", model_path=HALF_PLUS_THREE))
    # As TF Serving's test: give a poll (were there one) the time to happen.
    time.sleep(poll_period + 1)

    verify_predict_request(
        address,
        model_name="half_plus_two",
        expected_output=3.0,
        specify_output=False,
        expected_version=model_version(HALF_PLUS_TWO),
    )
    assert not serves_half_plus_three(address)


# ---- SavedModels written by the test itself ------------------------------------------------


def test_tf_saved_model_save(model_servers, tmp_path):
    """test_tf_saved_model_save: y = v1 * v2 * x with v1 = 3, v2 = 2, for an unknown shape."""
    base_path = tmp_path / "tf_saved_model_save"
    root = tf.train.Checkpoint()
    root.v1 = tf.Variable(3.0)
    root.v2 = tf.Variable(2.0)
    root.f = tf.function(lambda x: {"y": root.v1 * root.v2 * x})
    to_save = root.f.get_concrete_function(tf.TensorSpec(None, tf.float32))
    tf.saved_model.save(root, str(base_path / "00000123"), to_save)

    address = model_servers.run("default", base_path).address

    verify_predict_request(
        address, expected_output=12.0, specify_output=False, expected_version=123
    )


def test_tf_saved_model_save_multiple_signatures(model_servers, tmp_path):
    """test_tf_saved_model_save_multiple_signatures."""
    base_path = tmp_path / "tf_saved_model_save"
    root = tf.train.Checkpoint()
    root.f = tf.function(lambda x: {"y": 1.0}, input_signature=[tf.TensorSpec(None, tf.float32)])
    root.g = tf.function(lambda x: {"y": 2.0}, input_signature=[tf.TensorSpec(None, tf.float32)])
    tf.saved_model.save(
        root,
        str(base_path / "00000123"),
        signatures={DEFAULT_SIGNATURE: root.f, "custom_signature_key": root.g},
    )

    address = model_servers.run("default", base_path).address

    verify_predict_request(
        address, expected_output=2.0, expected_version=123, signature_name="custom_signature_key"
    )
    verify_predict_request(address, expected_output=1.0, expected_version=123)


# Keras 3 (what tf.keras is since TensorFlow 2.16) exports a Sequential model's serving
# signature as inputs -> output_0 where TF Serving's test, written for Keras 2, expects the
# layer names x -> y; the requests use the names the export has.
KERAS_ALIASES = {"input_alias": "inputs", "output_alias": "output_0"}


def test_sequential_keras_saved_model_save(model_servers, tmp_path):
    """test_sequential_keras_saved_model_save: an identity Keras model, x fed as [1, 1]."""
    model = tf.keras.models.Sequential()
    model.add(tf.keras.layers.Input(dtype="float32", shape=(1,), name="x"))
    model.add(tf.keras.layers.Lambda(lambda x: x, name="y"))
    base_path = tmp_path / "keras_sequential_saved_model_save"
    tf.saved_model.save(model, str(base_path / "00000123"))

    address = model_servers.run("default", base_path).address

    verify_predict_request(
        address,
        batch_input=True,
        specify_output=False,
        expected_output=2.0,
        expected_version=123,
        **KERAS_ALIASES,
    )


# Virtual CPUs must be set up before TensorFlow first looks at its devices, which this test
# process has long done: the model is written in a fresh process.
DISTRIBUTED_EXPORT = textwrap.dedent(
    """
    import sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    strategy = tf.distribute.MirroredStrategy(devices=("/cpu:0", "/cpu:1"))
    with strategy.scope():
        model = tf.keras.models.Sequential()
        model.add(tf.keras.layers.Input(dtype="float32", shape=(1,), name="x"))
        model.add(
            tf.keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")
        )
        model.add(tf.keras.layers.Lambda(lambda x: x, name="y"))
    tf.saved_model.save(model, sys.argv[1])
    """
)


def test_distrat_sequential_keras_saved_model_save(model_servers, tmp_path):
    """test_distrat_sequential_keras_saved_model_save: a Keras model built under a
    MirroredStrategy over two virtual CPUs.

    TF Serving's expected value (2.0) was for a Keras 2 export. What Keras 3 writes restores,
    in its v1 restore op, variables other than the ones its serving function reads
    (Variable, Variable_1 against sequential/dense/kernel, .../bias), so TensorFlow's v1
    loader, the one TF Serving uses, leaves the function's variables unset: a session run
    fails, here as with TensorFlow's own Session (tests/modelserver/reference.py).
    """
    base_path = tmp_path / "keras_sequential_saved_model_save"
    subprocess.run(
        [sys.executable, "-c", DISTRIBUTED_EXPORT, str(base_path / "00000123")],
        check=True,
        capture_output=True,
        cwd=ROOT,
        timeout=300,
    )
    address = model_servers.run("default", base_path).address

    with pytest.raises(grpc.RpcError) as caught:
        verify_predict_request(
            address,
            batch_input=True,
            specify_output=False,
            expected_output=2.0,
            expected_version=123,
            **KERAS_ALIASES,
        )

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # Which of the two unset variables is read first varies from run to run (the session
    # runs independent ops in parallel).
    assert re.match(
        r"Could not find variable sequential/dense/(kernel|bias)\. This could mean that the "
        r"variable has been deleted\. In TF1, it can also mean the variable is uninitialized\.",
        caught.value.details(),
    )
