"""Re-create the demo SavedModels in TF Serving's layout: <output>/<name>/<version>/.

    python models/export.py [--output DIR] [--only NAME ...]

Training is seeded and runs on the CPU, so a re-run gives the same predictions. Every model is
exported from a plain tf.Module whose tf.functions carry explicit input signatures, so the
signature keys, tensor names, dtypes and shapes are exactly the ones the gateway documents.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# Quiet TensorFlow's start-up chatter and keep oneDNN's reordering of float sums out of the
# way of reproducible training; both must be set before tensorflow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import fingerprint_pb2, saved_model_pb2
from tensorflow.python.saved_model.pywrap_saved_model import (
    fingerprinting as saved_model_fingerprinting,
)

MODELS_DIR = Path(__file__).resolve().parent
DATA_DIR = MODELS_DIR / "data"
SEED = 20240611

PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"

IRIS_FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
IRIS_CLASSES = ("setosa", "versicolor", "virginica")
SENTIMENT_HASH_BUCKETS = 4096
# The model reads at most this much of each text, so one row's work is bounded whatever
# a request holds (the demo sentences are far shorter).
SENTIMENT_MAX_TEXT_BYTES = 1024


@dataclass(frozen=True)
class Servable:
    """One exported version: the module to save and the method name of each signature."""

    module: tf.Module
    signatures: Mapping[str, Callable[..., object]]
    methods: Mapping[str, str]


def seed_everything() -> None:
    tf.keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()


# --------------------------------------------------------------------------- half_plus_two


class HalfPlusTwo(tf.Module):
    def __init__(self, offset: float) -> None:
        super().__init__()
        self.slope = tf.Variable(0.5, dtype=tf.float32, name="slope")
        self.offset = tf.Variable(offset, dtype=tf.float32, name="offset")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def predict(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": self.slope * x + self.offset}


def build_half_plus_two() -> dict[int, Servable]:
    # Version 2 deliberately differs (offset 3) so callers can tell the versions apart.
    servables = {}
    for version, offset in ((1, 2.0), (2, 3.0)):
        module = HalfPlusTwo(offset)
        servables[version] = Servable(
            module, {"serving_default": module.predict}, {"serving_default": PREDICT_METHOD}
        )
    return servables


# --------------------------------------------------------------------------- iris


def read_iris() -> tuple[np.ndarray, np.ndarray]:
    with (DATA_DIR / "iris.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    features = np.array([[float(row[name]) for name in IRIS_FEATURES] for row in rows], np.float32)
    labels = np.array([IRIS_CLASSES.index(row["species"]) for row in rows], np.int64)
    return features, labels


class Iris(tf.Module):
    """Standardise -> Dense(16, relu) -> Dense(3, softmax); plus a linear petal-width fit."""

    def __init__(
        self,
        mean: np.ndarray,
        std: np.ndarray,
        dense_weights: list[np.ndarray],
        regression_weights: np.ndarray,
        regression_bias: float,
    ) -> None:
        super().__init__()
        self.mean = tf.constant(mean, tf.float32)
        self.std = tf.constant(std, tf.float32)
        self.hidden_kernel = tf.Variable(dense_weights[0], name="hidden_kernel")
        self.hidden_bias = tf.Variable(dense_weights[1], name="hidden_bias")
        self.output_kernel = tf.Variable(dense_weights[2], name="output_kernel")
        self.output_bias = tf.Variable(dense_weights[3], name="output_bias")
        self.regression_weights = tf.Variable(regression_weights, name="regression_weights")
        self.regression_bias = tf.Variable(
            regression_bias, dtype=tf.float32, name="regression_bias"
        )
        self.class_names = tf.constant(IRIS_CLASSES)

    def probabilities(self, features: tf.Tensor) -> tf.Tensor:
        standardised = (features - self.mean) / self.std
        hidden = tf.nn.relu(standardised @ self.hidden_kernel + self.hidden_bias)
        return tf.nn.softmax(hidden @ self.output_kernel + self.output_bias)

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.float32, name=name) for name in IRIS_FEATURES]
    )
    def predict(
        self,
        sepal_length: tf.Tensor,
        sepal_width: tf.Tensor,
        petal_length: tf.Tensor,
        petal_width: tf.Tensor,
    ) -> dict[str, tf.Tensor]:
        features = tf.stack([sepal_length, sepal_width, petal_length, petal_width], axis=1)
        probabilities = self.probabilities(features)
        class_ids = tf.argmax(probabilities, axis=1, output_type=tf.int64)
        return {
            "probabilities": probabilities,
            "class_ids": class_ids,
            "classes": tf.gather(self.class_names, class_ids),
        }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def classify(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        examples = tf.io.parse_example(inputs, float_features(IRIS_FEATURES))
        probabilities = self.probabilities(tf.stack([examples[n] for n in IRIS_FEATURES], axis=1))
        # TF Serving's Classify wants one label per score: every row lists all three classes.
        classes = tf.tile(self.class_names[tf.newaxis, :], [tf.shape(inputs)[0], 1])
        return {"classes": tf.ensure_shape(classes, [None, 3]), "scores": probabilities}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def regress(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        names = IRIS_FEATURES[:3]
        examples = tf.io.parse_example(inputs, float_features(names))
        features = tf.stack([examples[n] for n in names], axis=1)
        petal_width = tf.linalg.matvec(features, self.regression_weights) + self.regression_bias
        return {"outputs": petal_width}


def float_features(names: Iterable[str]) -> dict[str, tf.io.FixedLenFeature]:
    return {name: tf.io.FixedLenFeature([], tf.float32) for name in names}


def build_iris() -> dict[int, Servable]:
    seed_everything()
    features, labels = read_iris()
    mean, std = features.mean(axis=0), features.std(axis=0)
    classifier = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(4,)),
            tf.keras.layers.Dense(16, activation="relu"),
            tf.keras.layers.Dense(3, activation="softmax"),
        ]
    )
    classifier.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=0.02),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = classifier.fit(
        (features - mean) / std, labels, epochs=150, batch_size=150, shuffle=False, verbose=0
    )
    accuracy = history.history["accuracy"][-1]

    # Petal width from the other three measurements: ordinary least squares, exact and
    # reproducible, which is all a demonstration of the Regress API needs.
    design = np.hstack([features[:, :3], np.ones((len(features), 1), np.float32)])
    solution, *_ = np.linalg.lstsq(design.astype(np.float64), features[:, 3], rcond=None)
    residual = design @ solution - features[:, 3]
    print(
        f"iris: training accuracy {accuracy:.3f}, "
        f"petal_width RMSE {math.sqrt(float(np.mean(residual**2))):.3f}"
    )

    module = Iris(
        mean,
        std,
        [np.asarray(w, np.float32) for w in classifier.get_weights()],
        solution[:3].astype(np.float32),
        float(solution[3]),
    )
    return {
        1: Servable(
            module,
            {
                "serving_default": module.predict,
                "classification": module.classify,
                "regression": module.regress,
            },
            {
                "serving_default": PREDICT_METHOD,
                "classification": CLASSIFY_METHOD,
                "regression": REGRESS_METHOD,
            },
        )
    }


# --------------------------------------------------------------------------- sentiment


def read_sentiment() -> tuple[list[str], np.ndarray]:
    with (DATA_DIR / "sentiment.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = [row["text"] for row in rows]
    labels = np.array([1.0 if row["label"] == "positive" else 0.0 for row in rows], np.float32)
    return texts, labels


def sentiment_terms(text: tf.Tensor) -> tf.RaggedTensor:
    """Each text's hashed words and word pairs ("not good" must not read as "good"), from its
    first SENTIMENT_MAX_TEXT_BYTES bytes."""
    lowered = tf.strings.lower(tf.strings.substr(text, 0, SENTIMENT_MAX_TEXT_BYTES))
    words = tf.strings.split(tf.strings.regex_replace(lowered, r"[^a-z0-9']+", " "))
    terms = tf.concat([words, tf.strings.ngrams(words, 2)], axis=1)
    return tf.strings.to_hash_bucket_fast(terms, SENTIMENT_HASH_BUCKETS)


def sentiment_features(text: tf.Tensor) -> tf.Tensor:
    """The dense binary bag of terms [N, SENTIMENT_HASH_BUCKETS], for training only."""
    counts = tf.math.bincount(
        sentiment_terms(text),
        minlength=SENTIMENT_HASH_BUCKETS,
        maxlength=SENTIMENT_HASH_BUCKETS,
        binary_output=True,
        axis=-1,
    )
    # bincount over ragged rows loses the static shape; restore it so the signature says so.
    return tf.ensure_shape(tf.cast(counts, tf.float32), [None, SENTIMENT_HASH_BUCKETS])


def present_terms_logits(terms: tf.RaggedTensor, weights: tf.Tensor, rows: tf.Tensor) -> tf.Tensor:
    """Per row, the sum of the weights of its distinct terms: the dense features times the
    weights, in memory proportional to the terms (a dense [N, 4096] batch of 100,000 short
    texts took 3.3 GB)."""
    row_ids = terms.value_rowids()
    distinct, _ = tf.unique(row_ids * SENTIMENT_HASH_BUCKETS + terms.flat_values)
    return tf.math.unsorted_segment_sum(
        tf.gather(weights, distinct % SENTIMENT_HASH_BUCKETS),
        distinct // SENTIMENT_HASH_BUCKETS,
        rows,
    )


class Sentiment(tf.Module):
    def __init__(self, weights: np.ndarray, bias: float) -> None:
        super().__init__()
        self.weights = tf.Variable(weights, name="weights")
        self.bias = tf.Variable(bias, name="bias")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def predict(self, text: tf.Tensor) -> dict[str, tf.Tensor]:
        logits = present_terms_logits(sentiment_terms(text), self.weights, tf.shape(text)[0])
        score = tf.sigmoid(logits + self.bias)
        label = tf.where(score >= 0.5, tf.constant("positive"), tf.constant("negative"))
        return {"score": score, "label": label, "text_bytes": tf.strings.lower(text)}


def build_sentiment() -> dict[int, Servable]:
    seed_everything()
    texts, labels = read_sentiment()
    features = sentiment_features(tf.constant(texts))
    targets = tf.constant(labels)
    weights = tf.Variable(tf.zeros([SENTIMENT_HASH_BUCKETS]))
    bias = tf.Variable(0.0)
    optimizer = tf.keras.optimizers.Adam(learning_rate=0.1)

    # Full-batch logistic regression with a small L2 penalty: deterministic and under a second.
    @tf.function
    def train_step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            logits = tf.linalg.matvec(features, weights) + bias
            loss = tf.reduce_mean(
                tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
            ) + 1e-3 * tf.reduce_sum(weights**2)
        optimizer.apply_gradients(
            zip(tape.gradient(loss, [weights, bias]), [weights, bias], strict=True)
        )
        return loss

    for _ in range(200):
        loss = train_step()
    predictions = tf.linalg.matvec(features, weights) + bias >= 0.0
    accuracy = float(np.mean(predictions.numpy() == (labels == 1.0)))
    print(f"sentiment: {len(texts)} sentences, training accuracy {accuracy:.3f}, loss {loss:.3f}")

    module = Sentiment(weights.numpy(), float(bias.numpy()))
    return {
        1: Servable(
            module, {"serving_default": module.predict}, {"serving_default": PREDICT_METHOD}
        )
    }


# --------------------------------------------------------------------------- digits


def _arc(
    cx: float, cy: float, rx: float, ry: float, start: float, end: float, points: int = 20
) -> list[tuple[float, float]]:
    """Points on an ellipse, angles in degrees counter-clockwise from 3 o'clock (y down)."""
    angles = np.radians(np.linspace(start, end, points))
    return [(cx + rx * math.cos(a), cy - ry * math.sin(a)) for a in angles]


# Each digit as polylines in a unit box (x right, y down), drawn like handwriting strokes.
DIGIT_STROKES: tuple[tuple[list[tuple[float, float]], ...], ...] = (
    (_arc(0.5, 0.5, 0.28, 0.42, 0, 360, 28),),
    ([(0.33, 0.25), (0.52, 0.08), (0.52, 0.92)],),
    ([*_arc(0.5, 0.3, 0.25, 0.21, 160, -30), (0.22, 0.92), (0.8, 0.92)],),
    (_arc(0.5, 0.28, 0.24, 0.19, 150, -90), _arc(0.5, 0.69, 0.27, 0.22, 90, -150)),
    ([(0.66, 0.92), (0.66, 0.08), (0.2, 0.66), (0.82, 0.66)],),
    ([(0.76, 0.08), (0.33, 0.08), (0.29, 0.46), *_arc(0.5, 0.66, 0.27, 0.26, 130, -140)],),
    ([(0.7, 0.08), (0.45, 0.25), (0.3, 0.47), (0.25, 0.68)], _arc(0.5, 0.69, 0.25, 0.23, 0, 360)),
    ([(0.2, 0.08), (0.8, 0.08), (0.42, 0.92)],),
    (_arc(0.5, 0.28, 0.22, 0.2, 0, 360), _arc(0.5, 0.7, 0.27, 0.22, 0, 360)),
    (_arc(0.5, 0.31, 0.25, 0.23, 0, 360), [(0.75, 0.31), (0.7, 0.6), (0.45, 0.92)]),
)


def _segments(strokes: Iterable[list[tuple[float, float]]]) -> tuple[np.ndarray, np.ndarray]:
    starts, ends = [], []
    for stroke in strokes:
        points = np.asarray(stroke, np.float64)
        starts.append(points[:-1])
        ends.append(points[1:])
    return np.concatenate(starts), np.concatenate(ends)


DIGIT_SEGMENTS = tuple(_segments(strokes) for strokes in DIGIT_STROKES)
PIXEL_CENTRES = np.stack(np.meshgrid(np.arange(28) + 0.5, np.arange(28) + 0.5), -1).reshape(-1, 2)


def render_digit(digit: int, rng: np.random.Generator) -> np.ndarray:
    """A 28x28 grey image of `digit`: random size, slant, rotation, shift, stroke width, noise."""
    starts, ends = DIGIT_SEGMENTS[digit]
    angle = math.radians(rng.uniform(-12, 12))
    shear = rng.uniform(-0.25, 0.25)
    scale = 20 * rng.uniform(0.8, 1.1)
    aspect = rng.uniform(0.8, 1.15)
    transform = (
        np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        @ np.array([[1.0, shear], [0.0, 1.0]])
        @ np.diag([scale * aspect, scale])
    )
    offset = 14 + rng.uniform(-2.5, 2.5, size=2)
    a = (starts - 0.5) @ transform.T + offset
    b = (ends - 0.5) @ transform.T + offset
    # Distance from every pixel centre to its nearest stroke segment.
    direction = b - a
    length_squared = np.maximum((direction**2).sum(axis=1), 1e-9)
    relative = PIXEL_CENTRES[:, None, :] - a[None, :, :]
    t = np.clip((relative * direction[None]).sum(axis=2) / length_squared[None], 0.0, 1.0)
    nearest = a[None] + t[..., None] * direction[None]
    distance = np.sqrt(((PIXEL_CENTRES[:, None, :] - nearest) ** 2).sum(axis=2)).min(axis=1)
    half_width = rng.uniform(0.7, 1.5)
    image = np.clip(half_width + 0.5 - distance, 0.0, 1.0)
    image = image + rng.normal(0.0, rng.uniform(0.02, 0.12), size=image.shape)
    return np.clip(image, 0.0, 1.0).reshape(28, 28, 1).astype(np.float32)


def digit_images(count_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(10), count_per_class)
    images = np.stack([render_digit(int(label), rng) for label in labels])
    return images, labels.astype(np.int64)


class Digits(tf.Module):
    """conv3x3(16) -> maxpool -> conv3x3(32) -> maxpool -> dense(64) -> dense(10) softmax."""

    def __init__(self, weights: list[np.ndarray]) -> None:
        super().__init__()
        names = ("conv1_kernel", "conv1_bias", "conv2_kernel", "conv2_bias")
        names += ("hidden_kernel", "hidden_bias", "output_kernel", "output_bias")
        self.parameters = [tf.Variable(w, name=n) for w, n in zip(weights, names, strict=True)]

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="image")])
    def predict(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        conv1, bias1, conv2, bias2, hidden, hidden_bias, output, output_bias = self.parameters
        x = tf.nn.relu(tf.nn.conv2d(image, conv1, 1, "SAME") + bias1)
        x = tf.nn.max_pool2d(x, 2, 2, "VALID")
        x = tf.nn.relu(tf.nn.conv2d(x, conv2, 1, "SAME") + bias2)
        x = tf.nn.max_pool2d(x, 2, 2, "VALID")
        x = tf.nn.relu(tf.reshape(x, [-1, 7 * 7 * 32]) @ hidden + hidden_bias)
        probabilities = tf.nn.softmax(x @ output + output_bias)
        return {
            "probabilities": probabilities,
            "class_ids": tf.argmax(probabilities, axis=1, output_type=tf.int64),
        }


def build_digits() -> dict[int, Servable]:
    seed_everything()
    train_images, train_labels = digit_images(400, SEED)
    test_images, test_labels = digit_images(50, SEED + 1)
    network = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(28, 28, 1)),
            tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            tf.keras.layers.MaxPooling2D(2),
            tf.keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            tf.keras.layers.MaxPooling2D(2),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(64, activation="relu"),
            tf.keras.layers.Dense(10, activation="softmax"),
        ]
    )
    network.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=0.003),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    network.fit(train_images, train_labels, epochs=4, batch_size=64, shuffle=True, verbose=0)
    _, accuracy = network.evaluate(test_images, test_labels, verbose=0)
    print(f"digits: {len(train_images)} generated images, held-out accuracy {accuracy:.3f}")

    module = Digits([np.asarray(w, np.float32) for w in network.get_weights()])
    return {
        1: Servable(
            module, {"serving_default": module.predict}, {"serving_default": PREDICT_METHOD}
        )
    }


# --------------------------------------------------------------------------- slow (tests only)


class Slow(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="delay_seconds")])
    def predict(self, delay_seconds: tf.Tensor) -> dict[str, tf.Tensor]:
        # Busy-wait instead of sleeping: TensorFlow has no sleep op in the standard kernels, and
        # a loop on tf.timestamp() keeps the model a pure graph any TF Serving can load.
        delay = tf.cast(tf.reduce_max(tf.concat([delay_seconds, [0.0]], axis=0)), tf.float64)
        start = tf.timestamp()
        now = start
        while now - start < delay:
            now = tf.timestamp()
        waited = tf.cast(now - start, tf.float32)
        return {"waited": tf.fill(tf.shape(delay_seconds), waited)}


def build_slow() -> dict[int, Servable]:
    module = Slow()
    return {
        1: Servable(
            module, {"serving_default": module.predict}, {"serving_default": PREDICT_METHOD}
        )
    }


# --------------------------------------------------------------------------- export


BUILDERS: dict[str, Callable[[], dict[int, Servable]]] = {
    "half_plus_two": build_half_plus_two,
    "iris": build_iris,
    "sentiment": build_sentiment,
    "digits": build_digits,
    "slow": build_slow,
}
DEFAULT_MODELS = ("half_plus_two", "iris", "sentiment", "digits")


def set_method_names(export_dir: Path, methods: Mapping[str, str]) -> None:
    """Give each signature its TF Serving method name.

    tf.saved_model.save marks every signature as a predict signature; TF Serving's Classify
    and Regress refuse a signature whose method_name is not tensorflow/serving/classify or
    tensorflow/serving/regress, so the names are rewritten in saved_model.pb and the
    fingerprint, which hashes that file, is recomputed.
    """
    path = export_dir / "saved_model.pb"
    saved_model = saved_model_pb2.SavedModel.FromString(path.read_bytes())
    signature_defs = saved_model.meta_graphs[0].signature_def
    for key, method in methods.items():
        signature_defs[key].method_name = method
    path.write_bytes(saved_model.SerializeToString(deterministic=True))
    fingerprint = fingerprint_pb2.FingerprintDef.FromString(
        saved_model_fingerprinting.CreateFingerprintDef(str(export_dir))
    )
    # The uuid is random per save; without it a re-export is byte-identical (no spurious diffs).
    fingerprint.ClearField("uuid")
    (export_dir / "fingerprint.pb").write_bytes(fingerprint.SerializeToString(deterministic=True))


def export_servable(servable: Servable, model_dir: Path, version: int) -> Path:
    """Write one version next to its final place, then move it in, so a model server polling
    the folder never sees a half-written version."""
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=model_dir))
    try:
        tf.saved_model.save(servable.module, str(staging), signatures=dict(servable.signatures))
        set_method_names(staging, servable.methods)
        target = model_dir / str(version)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output", type=Path, default=MODELS_DIR, help="folder to write <name>/<version>/ into"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=sorted(BUILDERS),
        metavar="NAME",
        help=f"export only these models ({', '.join(BUILDERS)}); default: all but slow",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    tf.config.set_visible_devices([], "GPU")
    total_start = time.perf_counter()
    for name in args.only or DEFAULT_MODELS:
        start = time.perf_counter()
        for version, servable in BUILDERS[name]().items():
            target = export_servable(servable, args.output / name, version)
            print(f"exported {name} version {version} to {target}")
        print(f"{name}: {time.perf_counter() - start:.1f} s")
    print(f"total: {time.perf_counter() - total_start:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
