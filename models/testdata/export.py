"""Write the TF-Serving-style test models into models/testdata/<name>/<version>/.

    python models/testdata/export.py [--output DIR]

TF Serving's own test suite (tensorflow_model_server_test.py) runs against a handful of
tiny SavedModels that all compute y = 0.5 x + 2 in some form. These are the same kinds of
model, written from scratch by this script so that TF Serving's test cases can be ported with
their expected values (README.md lists each model, its signatures and what it answers):

- half_plus_two: a TF1 graph (tf.compat.v1, SavedModelBuilder), tf.Examples parsed in the
  graph, predict / classify / regress signatures over the same tensors;
- half_plus_two_tf2: a TF2 tf.Module whose signatures are all of the predict method;
- half_plus_three: a graph in TensorFlow 1.0's dialect (GraphDef producer 21, a v1
  ParseExample op fed by a placeholder whose shape is written as "unknown" the old way),
  which TensorFlow's TF2 loader cannot import but its v1 loader (and TF Serving) can;
- half_plus_two_2_versions: versions 123 (y = 0.5 x + 2) and 124 (y = 0.5 x + 3);
- half_plus_two_warmup: half_plus_two that counts its session runs, with an
  assets.extra/tf_serving_warmup_requests file of one predict, classify, regress and
  multi-inference request.

The script is deterministic: a re-run writes byte-identical files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import tensorflow as tf
from tensorflow.core.example import example_pb2
from tensorflow.core.framework import tensor_shape_pb2
from tensorflow.core.protobuf import fingerprint_pb2, saved_model_pb2
from tensorflow.python.saved_model.pywrap_saved_model import (
    fingerprinting as saved_model_fingerprinting,
)
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    predict_pb2,
    prediction_log_pb2,
    regression_pb2,
)

TESTDATA_DIR = Path(__file__).resolve().parent
VERSION = 123

PREDICT = "tensorflow/serving/predict"
CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"

v1 = tf.compat.v1


def _features() -> dict[str, tf.io.FixedLenFeature]:
    """tf.Examples carry x and, optionally, x2 (default 0): one float each."""
    return {
        "x": tf.io.FixedLenFeature([1], tf.float32),
        "x2": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0]),
    }


def _signature(inputs: dict[str, tf.Tensor], outputs: dict[str, tf.Tensor], method: str) -> object:
    info = v1.saved_model.utils.build_tensor_info
    return v1.saved_model.signature_def_utils.build_signature_def(
        {alias: info(t) for alias, t in inputs.items()},
        {alias: info(t) for alias, t in outputs.items()},
        method,
    )


# ----------------------------------------------------------------------------- TF1 graphs


def write_tf1_half_plus_two(export_dir: Path, b: float = 2.0, count_runs: bool = False) -> None:
    """y = a x + b, y2 = a x + c, y3 = a2 x2 + c2 with a = a2 = 0.5, c = c2 = 3 (variables).

    x and x2 come from tf.Examples fed to ``tf_example``; predict feeds x ([-1, 1]) directly.
    With ``count_runs`` every session run that fetches y, y2 or y3 adds 1 to a resource
    variable that the extra ``runs`` signature reads, so a test can see how many requests
    (warmup ones included) the model has executed.
    """
    graph = tf.Graph()
    with graph.as_default():
        a = v1.Variable(0.5, name="a")
        b_var = v1.Variable(b, name="b")
        c = v1.Variable(3.0, name="c")
        # Separate variables for the x2 path, so no optimiser can fuse it with the x path.
        a2 = v1.Variable(0.5, name="a2")
        c2 = v1.Variable(3.0, name="c2")
        serialized = v1.placeholder(tf.string, shape=[None], name="tf_example")
        parsed = v1.io.parse_example(serialized, _features())
        x = tf.identity(parsed["x"], name="x")
        x2 = tf.identity(parsed["x2"], name="x2")
        dependencies = []
        if count_runs:
            runs = v1.Variable(0.0, name="runs", use_resource=True)
            dependencies = [runs.assign_add(1.0)]
        with tf.control_dependencies(dependencies):
            y = tf.identity(a * x + b_var, name="y")
            y2 = tf.identity(a * x + c, name="y2")
            y3 = tf.identity(a2 * x2 + c2, name="y3")
        signatures = {
            "serving_default": _signature({"x": x}, {"y": y}, PREDICT),
            "classify_x_to_y": _signature({"inputs": serialized}, {"scores": y}, CLASSIFY),
            "classify_x2_to_y3": _signature({"inputs": x2}, {"scores": y3}, CLASSIFY),
            "regress_x_to_y": _signature({"inputs": serialized}, {"outputs": y}, REGRESS),
            "regress_x_to_y2": _signature({"inputs": serialized}, {"outputs": y2}, REGRESS),
            "regress_x2_to_y3": _signature({"inputs": x2}, {"outputs": y3}, REGRESS),
        }
        if count_runs:
            signatures["runs"] = _signature({}, {"runs": runs.read_value()}, PREDICT)
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(str(export_dir))
            builder.add_meta_graph_and_variables(
                session, [v1.saved_model.tag_constants.SERVING], signature_def_map=signatures
            )
            builder.save()


def write_tf1_0_half_plus_three(export_dir: Path) -> None:
    """y = 0.5 x + 3, in the GraphDef dialect TensorFlow 1.0 exported.

    TF 1.0 wrote a placeholder of unknown shape as an empty shape (which graphs of producer
    version 21 or older read as "unknown") and parsed tf.Examples with the v1 ParseExample
    op, whose dense keys are scalar inputs. TensorFlow's TF2 loader re-imports such a graph
    as written and fails its shape check ("Shape must be rank 1 but is rank 0 ...
    ParseExample"); the v1 loader honours the producer version, as TF Serving does.
    """
    graph = tf.Graph()
    with graph.as_default():
        a = v1.Variable(0.5, name="a")
        b = v1.Variable(3.0, name="b")
        serialized = v1.placeholder(tf.string, shape=[None], name="tf_example")
        parsed = tf.raw_ops.ParseExample(
            serialized=serialized,
            names=tf.constant([], tf.string),
            sparse_keys=[],
            dense_keys=[tf.constant("x")],
            dense_defaults=[tf.constant([], tf.float32)],
            sparse_types=[],
            dense_shapes=[[1]],
        )
        x = tf.identity(parsed.dense_values[0], name="x")
        y = tf.identity(a * x + b, name="y")
        signatures = {
            "serving_default": _signature({"x": x}, {"y": y}, PREDICT),
            # TF 1.0-era exports keyed the regression signature by its method name.
            REGRESS: _signature({"inputs": serialized}, {"outputs": y}, REGRESS),
        }
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(str(export_dir))
            builder.add_meta_graph_and_variables(
                session, [v1.saved_model.tag_constants.SERVING], signature_def_map=signatures
            )
            builder.save()

    def to_tf1_0_dialect(saved_model: saved_model_pb2.SavedModel) -> None:
        meta_graph = saved_model.meta_graphs[0]
        meta_graph.graph_def.versions.producer = 21
        for node in meta_graph.graph_def.node:
            if node.op == "Placeholder":
                node.attr["shape"].shape.CopyFrom(tensor_shape_pb2.TensorShapeProto())
        for signature in meta_graph.signature_def.values():
            for info in [*signature.inputs.values(), *signature.outputs.values()]:
                info.tensor_shape.CopyFrom(tensor_shape_pb2.TensorShapeProto())

    rewrite_saved_model(export_dir, to_tf1_0_dialect)


# ----------------------------------------------------------------------------- TF2 module


class HalfPlusTwoTf2(tf.Module):
    """The TF2 flavour: tf.saved_model.save marks every signature as a predict signature."""

    def __init__(self, asset: Path) -> None:
        super().__init__()
        self.a = tf.Variable(0.5, name="a")
        self.b = tf.Variable(2.0, name="b")
        self.c = tf.Variable(3.0, name="c")
        self.asset = tf.saved_model.Asset(str(asset))

    def _x(self, serialized: tf.Tensor) -> tf.Tensor:
        return tf.io.parse_example(serialized, _features())["x"]

    @tf.function(input_signature=[tf.TensorSpec([1], tf.float32)])
    def predict(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": self.a * x + self.b}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def classify_x_to_y(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"scores": self.a * self._x(inputs) + self.b}

    @tf.function(input_signature=[tf.TensorSpec([1], tf.float32)])
    def classify_x2_to_y3(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"scores": self.a * inputs + self.c}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def regress_x_to_y(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"outputs": self.a * self._x(inputs) + self.b}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def regress_x_to_y2(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"outputs": self.a * self._x(inputs) + self.c}

    @tf.function(input_signature=[tf.TensorSpec([1], tf.float32)])
    def regress_x2_to_y3(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"outputs": self.a * inputs + self.c}


def write_tf2_half_plus_two(export_dir: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        asset = Path(scratch) / "foo.txt"
        asset.write_text("half_plus_two_tf2 asset\n")
        module = HalfPlusTwoTf2(asset)
        signatures = {
            "serving_default": module.predict,
            "classify_x_to_y": module.classify_x_to_y,
            "classify_x2_to_y3": module.classify_x2_to_y3,
            "regress_x_to_y": module.regress_x_to_y,
            "regress_x_to_y2": module.regress_x_to_y2,
            "regress_x2_to_y3": module.regress_x2_to_y3,
        }
        tf.saved_model.save(module, str(export_dir), signatures=signatures)


# ----------------------------------------------------------------------------- warmup


def example(x: float) -> example_pb2.Example:
    message = example_pb2.Example()
    message.features.feature["x"].float_list.value.append(x)
    return message


def warmup_logs() -> list[prediction_log_pb2.PredictionLog]:
    """One request of each kind TF Serving replays at load time, x = 2 in each."""
    predict = predict_pb2.PredictRequest()
    predict.model_spec.name = "half_plus_two_warmup"
    predict.inputs["x"].CopyFrom(tf.make_tensor_proto([[2.0]], tf.float32))
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.signature_name = "classify_x_to_y"
    classify.input.example_list.examples.append(example(2.0))
    regress = regression_pb2.RegressionRequest()
    regress.model_spec.signature_name = "regress_x_to_y"
    regress.input.example_list.examples.append(example(2.0))
    multi = inference_pb2.MultiInferenceRequest()
    for signature, method in (("regress_x_to_y", REGRESS), ("classify_x_to_y", CLASSIFY)):
        task = multi.tasks.add(method_name=method)
        task.model_spec.name = "half_plus_two_warmup"
        task.model_spec.signature_name = signature
    multi.input.example_list.examples.append(example(2.0))
    logs = [prediction_log_pb2.PredictionLog() for _ in range(4)]
    logs[0].predict_log.request.CopyFrom(predict)
    logs[1].classify_log.request.CopyFrom(classify)
    logs[2].regress_log.request.CopyFrom(regress)
    logs[3].multi_inference_log.request.CopyFrom(multi)
    return logs


def write_warmup_requests(export_dir: Path, logs: list[prediction_log_pb2.PredictionLog]) -> None:
    """TF Serving's warmup file: a TFRecord of serialized PredictionLogs."""
    path = export_dir / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for log in logs:
            writer.write(log.SerializeToString(deterministic=True))


def write_half_plus_two_warmup(export_dir: Path) -> None:
    write_tf1_half_plus_two(export_dir, count_runs=True)
    write_warmup_requests(export_dir, warmup_logs())


# ----------------------------------------------------------------------------- writing


def rewrite_saved_model(
    export_dir: Path, change: Callable[[saved_model_pb2.SavedModel], None]
) -> None:
    """Apply ``change`` to saved_model.pb, write it deterministically and recompute the
    fingerprint (which hashes that file) without its random uuid."""
    path = export_dir / "saved_model.pb"
    saved_model = saved_model_pb2.SavedModel.FromString(path.read_bytes())
    change(saved_model)
    path.write_bytes(saved_model.SerializeToString(deterministic=True))
    fingerprint = fingerprint_pb2.FingerprintDef.FromString(
        saved_model_fingerprinting.CreateFingerprintDef(str(export_dir))
    )
    fingerprint.ClearField("uuid")
    (export_dir / "fingerprint.pb").write_bytes(fingerprint.SerializeToString(deterministic=True))


WRITERS: dict[str, dict[int, Callable[[Path], None]]] = {
    "half_plus_two": {VERSION: write_tf1_half_plus_two},
    "half_plus_two_tf2": {VERSION: write_tf2_half_plus_two},
    "half_plus_three": {VERSION: write_tf1_0_half_plus_three},
    "half_plus_two_2_versions": {
        VERSION: write_tf1_half_plus_two,
        VERSION + 1: lambda export_dir: write_tf1_half_plus_two(export_dir, b=3.0),
    },
    "half_plus_two_warmup": {VERSION: write_half_plus_two_warmup},
}


def version_folder(version: int) -> str:
    """TF Serving's test models name version folders with eight digits (00000123)."""
    return f"{version:08d}"


def export(name: str, version: int, write: Callable[[Path], None], output: Path) -> Path:
    """Write into a hidden staging folder, then rename it into place, so a model server
    polling the folder never loads a half-written version."""
    model_dir = output / name
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=model_dir))
    try:
        export_dir = staging / "version"
        write(export_dir)
        # Serialized deterministically, with a fingerprint free of the save's random uuid.
        rewrite_saved_model(export_dir, lambda saved_model: None)
        target = model_dir / version_folder(version)
        if target.exists():
            shutil.rmtree(target)
        export_dir.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output", type=Path, default=TESTDATA_DIR, help="folder to write <name>/<version>/ into"
    )
    args = parser.parse_args(argv)
    tf.config.set_visible_devices([], "GPU")
    for name, versions in WRITERS.items():
        for version, write in versions.items():
            target = export(name, version, write, args.output)
            print(f"exported {name} version {version} to {target}")


if __name__ == "__main__":
    main(sys.argv[1:])
