"""The BentoML peer of the benchmark: BentoML serving ``half_plus_two`` version 2 itself.

Run only by the benchmark (bench/bentoml_peer.py), in an environment of its own with
BentoML installed (never the project's requirements). It loads the same SavedModel
the model server serves and answers the gateway's predict body with the gateway's
answer: ``{"instances": [x, ...]}`` -> ``{"predictions": [0.5 x + 3, ...]}``. No
authentication, no audit: BentoML's own cost for the same work.
"""

from __future__ import annotations

import os

import bentoml
import tensorflow as tf

MODEL_DIR = os.environ.get(
    "BENCH_SAVEDMODEL",
    os.path.join(os.path.dirname(__file__), "..", "models", "half_plus_two", "2"),
)


@bentoml.service(workers=int(os.environ.get("BENCH_BENTOML_WORKERS", "2")))
class HalfPlusTwo:
    def __init__(self) -> None:
        self.signature = tf.saved_model.load(MODEL_DIR).signatures["serving_default"]

    @bentoml.api
    def predict(self, instances: list[float]) -> dict[str, list[float]]:
        outputs = self.signature(x=tf.constant(instances, dtype=tf.float32))
        return {"predictions": outputs["y"].numpy().tolist()}
