"""Small SavedModels the model server tests export into temporary folders.

They have the same signatures as the demo models (half_plus_two) plus one model
("examples") with predict, classify and regress signatures over tf.Examples, so
the server's behaviour is tested independently of models/ being exported.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

PREDICT = "tensorflow/serving/predict"
CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"


def export_half_plus_two(base_path: Path, version: int, offset: float | None = None) -> Path:
    """y = 0.5 x + offset; offset defaults to 1 + version (v1: +2, v2: +3, as the demo model)."""
    add = float(1 + version if offset is None else offset)

    class HalfPlusTwo(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"y": 0.5 * x + add}

    module = HalfPlusTwo()
    target = base_path / str(version)
    tf.saved_model.save(module, str(target), signatures={"serving_default": module.serve})
    return target


def export_examples_model(base_path: Path, version: int = 1) -> Path:
    """A model over tf.Examples with features a and b (floats):
    serving_default (predict): inputs a [-1], b [-1] -> sum [-1], product [-1];
    classification: inputs (serialized Examples) -> classes [-1,2] ("low","high"),
        scores [-1,2] = softmax([0, a]);
    regression: inputs -> outputs [-1] = a + 2 b;
    image (predict): image [-1,2,2,1] float -> total [-1] (sum over each image);
    rowsum (predict): rows [-1,-1] float -> sums [-1] (any row length, so calls with
        different trailing shapes cannot be merged into one batch);
    root (predict): x [-1] float -> root [-1], failing in the graph for negative x."""
    features = {
        "a": tf.io.FixedLenFeature([], tf.float32),
        "b": tf.io.FixedLenFeature([], tf.float32, default_value=0.0),
    }

    class Examples(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec([None], tf.float32, name="a"),
                tf.TensorSpec([None], tf.float32, name="b"),
            ]
        )
        def predict(self, a: tf.Tensor, b: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"sum": a + b, "product": a * b}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
        def classify(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
            parsed = tf.io.parse_example(inputs, features)
            logits = tf.stack([tf.zeros_like(parsed["a"]), parsed["a"]], axis=1)
            batch = tf.shape(inputs)[0]
            classes = tf.tile(tf.constant([["low", "high"]]), [batch, 1])
            return {"classes": classes, "scores": tf.nn.softmax(logits)}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
        def regress(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
            parsed = tf.io.parse_example(inputs, features)
            return {"outputs": parsed["a"] + 2.0 * parsed["b"]}

        @tf.function(input_signature=[tf.TensorSpec([None, 2, 2, 1], tf.float32, name="image")])
        def image(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"total": tf.reduce_sum(image, axis=[1, 2, 3])}

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="rows")])
        def rowsum(self, rows: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"sums": tf.reduce_sum(rows, axis=1)}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def root(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            check = tf.debugging.assert_non_negative(x, message="x must not be negative")
            with tf.control_dependencies([check]):
                return {"root": tf.sqrt(x)}

    module = Examples()
    target = base_path / str(version)
    tf.saved_model.save(
        module,
        str(target),
        signatures={
            "serving_default": module.predict,
            "classification": module.classify,
            "regression": module.regress,
            "image": module.image,
            "rowsum": module.rowsum,
            "root": module.root,
        },
    )
    _set_method_names(target, {"classification": CLASSIFY, "regression": REGRESS})
    return target


def _set_method_names(saved_model_dir: Path, method_names: dict[str, str]) -> None:
    """tf.saved_model.save marks every signature as predict; Keras/Estimator exports mark
    classify/regress signatures with their own method, so the test model does too."""
    from tensorflow.core.protobuf import saved_model_pb2

    path = saved_model_dir / "saved_model.pb"
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString(path.read_bytes())
    for meta_graph in saved_model.meta_graphs:
        for key, method in method_names.items():
            meta_graph.signature_def[key].method_name = method
    path.write_bytes(saved_model.SerializeToString())


def export_slow_model(base_path: Path, version: int = 1) -> Path:
    """delay_seconds [-1] float -> waited [-1]: busy-waits max(delay) seconds (as models/'s
    ``slow``), so a call can be kept in flight while the server is told to stop."""

    class Slow(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="delay_seconds")])
        def serve(self, delay_seconds: tf.Tensor) -> dict[str, tf.Tensor]:
            start = tf.timestamp()
            target = tf.cast(tf.reduce_max(delay_seconds), tf.float64)

            def waiting(now: tf.Tensor) -> tf.Tensor:
                return now - start < target

            def tick(_now: tf.Tensor) -> tf.Tensor:
                return tf.timestamp()

            (end,) = tf.while_loop(waiting, tick, [start])
            waited = tf.cast(end - start, tf.float32)
            return {"waited": tf.fill(tf.shape(delay_seconds), waited)}

    module = Slow()
    target = base_path / str(version)
    tf.saved_model.save(module, str(target), signatures={"serving_default": module.serve})
    return target
