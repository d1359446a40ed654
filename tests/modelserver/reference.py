"""TensorFlow's own run of a SavedModel's signatures, the way TF Serving runs them.

TF Serving loads a SavedModel with TensorFlow's v1 loader into a session and feeds and
fetches a signature's tensors by name; the expected values of the tests come from doing
exactly that with TensorFlow's public API, not from the model server's code. (Calling
the functions of tf.saved_model.load instead computes in eager mode, without the
session's graph optimisations, and can differ in the last bits of a float.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

Signature = Callable[..., dict[str, np.ndarray]]


def session_signatures(version_dir: Path) -> dict[str, Signature]:
    """Each signature of the SavedModel as a function of its input aliases (keywords) that
    returns its outputs by alias, computed by one Session.run."""
    session = tf.compat.v1.Session(graph=tf.Graph())
    meta_graph = tf.compat.v1.saved_model.load(session, ["serve"], str(version_dir))

    def signature_function(signature) -> Signature:
        def run(**inputs: object) -> dict[str, np.ndarray]:
            feeds = {signature.inputs[alias].name: value for alias, value in inputs.items()}
            fetches = {alias: info.name for alias, info in signature.outputs.items()}
            return session.run(fetches, feeds)

        return run

    return {key: signature_function(sig) for key, sig in meta_graph.signature_def.items()}
