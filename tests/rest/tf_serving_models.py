"""TF Serving's own test model, made here: saved_model_half_plus_two_cpu (version 123).

A TF1 graph like the one tensorflow_serving/servables/tensorflow/testdata/
saved_model_half_plus_two.py exports: variables a=0.5, b=2, c=3 (a2=0.5, c2=3 for
x2), a placeholder of serialized tf.Examples with float features x and x2, and
y = a*x + b, y2 = a*x + c, y3 = a2*x2 + c2. Its signatures are TF Serving's:

- serving_default (predict): x DT_FLOAT [-1,1] -> y [-1,1]
- classify_x_to_y (classify): inputs (tf_example, unknown rank) -> scores y
- regress_x_to_y, regress_x_to_y2 (regress): inputs -> outputs y, y2
- regress_x2_to_y3 (regress): inputs x2 [-1,1] -> outputs y3

A stand-in until the generator of TF-Serving-style test models lands; the fixture
in conftest.py is the one place to switch over.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

PREDICT = "tensorflow/serving/predict"
CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"
TF_SERVING_TEST_VERSION = 123


def export_tf_serving_half_plus_two(
    base_path: Path, version: int = TF_SERVING_TEST_VERSION
) -> Path:
    v1 = tf.compat.v1
    target = base_path / f"{version:08d}"
    with tf.Graph().as_default() as graph, v1.Session(graph=graph) as session:
        a = v1.Variable(0.5, name="a")
        b = v1.Variable(2.0, name="b")
        c = v1.Variable(3.0, name="c")
        serialized = v1.placeholder(tf.string, name="tf_example")
        features = v1.parse_example(
            serialized,
            {
                "x": v1.FixedLenFeature([1], tf.float32),
                "x2": v1.FixedLenFeature([1], tf.float32, default_value=[0.0]),
            },
        )
        # TF Serving's testdata records x and x2 as [-1,1] (TensorFlow's parse_example no
        # longer infers it from an input of unknown rank).
        for parsed in features.values():
            parsed.set_shape([None, 1])
        x = tf.identity(features["x"], name="x")
        y = tf.identity(a * x + b, name="y")
        y2 = tf.identity(a * x + c, name="y2")
        x2 = tf.identity(features["x2"], name="x2")
        a2 = v1.Variable(0.5, name="a2")
        c2 = v1.Variable(3.0, name="c2")
        y3 = tf.identity(a2 * x2 + c2, name="y3")

        info = v1.saved_model.utils.build_tensor_info
        signature = v1.saved_model.signature_def_utils.build_signature_def
        signatures = {
            "serving_default": signature({"x": info(x)}, {"y": info(y)}, PREDICT),
            "classify_x_to_y": signature(
                {"inputs": info(serialized)}, {"scores": info(y)}, CLASSIFY
            ),
            "regress_x_to_y": signature(
                {"inputs": info(serialized)}, {"outputs": info(y)}, REGRESS
            ),
            "regress_x_to_y2": signature(
                {"inputs": info(serialized)}, {"outputs": info(y2)}, REGRESS
            ),
            "regress_x2_to_y3": signature({"inputs": info(x2)}, {"outputs": info(y3)}, REGRESS),
        }
        session.run(v1.global_variables_initializer())
        builder = v1.saved_model.builder.SavedModelBuilder(str(target))
        builder.add_meta_graph_and_variables(
            session, [v1.saved_model.tag_constants.SERVING], signature_def_map=signatures
        )
        builder.save()
    return target
