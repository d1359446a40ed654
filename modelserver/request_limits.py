"""How much work one call may ask for: a batch limit for calls that are not batched.

TF Serving bounds a call's rows only when batching is on (max_batch_size); without
it, one Predict of 100,000 rows runs as one session call, and a model that grows
with its batch (the old demo sentiment model built a dense [N, 4096] bag of words)
can take gigabytes. This server refuses such a call before decoding it, with the
words TF Serving's batching uses for a task that is too large, so a client sees the
same error whether batching is on or off. The message-size limit bounds the bytes
(see channel_arguments); this bounds the rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelserver import errors

if TYPE_CHECKING:  # flags.py imports this module, and --help must not wait for TensorFlow
    from tensorflow.core.framework import tensor_pb2
    from tensorflow_serving.apis import input_pb2

# TF Serving's default max_batch_size for batching (BatchingParameters).
DEFAULT_MAX_BATCH_SIZE = 1000


def predict_batch_size(inputs: Mapping[str, tensor_pb2.TensorProto]) -> int:
    """The largest 0th dimension among a PredictRequest's input tensors (0 for scalars)."""
    return max(
        (tensor.tensor_shape.dim[0].size for tensor in inputs.values() if tensor.tensor_shape.dim),
        default=0,
    )


def examples_batch_size(model_input: input_pb2.Input) -> int:
    """The number of tf.Examples a Classify, Regress or MultiInference call carries."""
    kind = model_input.WhichOneof("kind")
    if kind == "example_list":
        return len(model_input.example_list.examples)
    if kind == "example_list_with_context":
        return len(model_input.example_list_with_context.examples)
    return 0


@dataclass(frozen=True)
class RequestLimits:
    """``max_batch_size`` <= 0 means no limit (TF Serving's behaviour without batching)."""

    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE

    def check_batch_size(self, size: int) -> None:
        if 0 < self.max_batch_size < size:
            raise errors.task_larger_than_batch(size, self.max_batch_size)
