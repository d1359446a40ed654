"""How many rows one request may carry: the gateway's batch limit, per model.

TF Serving refuses a call larger than ``max_batch_size`` only when batching is on;
without it, one call of 100,000 rows runs as one session call, and a model whose memory
grows with its batch can take gigabytes of the model server. The gateway measures the
batch on the parsed JSON (before it converts anything or calls the model server) and
refuses it with TF Serving's own words for a task that is too large, naming the limit.

The batch is the outer dimension of the inputs: the number of row-format "instances",
the longest columnar input, the number of "examples". What the codec would refuse
anyway (no list at all) measures 0 and is left to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tfserving.errors import InvalidInput

# TF Serving's default max_batch_size (BatchingParameters), also the embedded model
# server's --max_request_batch_size.
DEFAULT_MAX_BATCH_SIZE = 1000


def predict_batch_size(body: object) -> int:
    """The rows of a TF Serving predict body: len("instances"), or the longest columnar input."""
    if not isinstance(body, dict):
        return 0
    if "instances" in body:
        return _length(body["instances"])
    inputs = body.get("inputs")
    if isinstance(inputs, dict):
        return max(map(_length, inputs.values()), default=0)
    return _length(inputs)


def examples_batch_size(body: object) -> int:
    """The tf.Examples of a classify or regress body."""
    return _length(body.get("examples")) if isinstance(body, dict) else 0


def _length(value: object) -> int:
    return len(value) if isinstance(value, list) else 0


@dataclass(frozen=True)
class BatchLimits:
    """The largest batch per model name; ``default`` for the others. 0 means no limit."""

    default: int = DEFAULT_MAX_BATCH_SIZE
    per_model: Mapping[str, int] = field(default_factory=dict)

    def limit_for(self, model: str) -> int:
        return self.per_model.get(model, self.default)

    def check(self, model: str, size: int) -> None:
        """InvalidInput (400) if ``size`` rows are more than ``model`` may take."""
        limit = self.limit_for(model)
        if 0 < limit < size:
            raise InvalidInput(
                f"Task size {size} is larger than maximum input batch size {limit} "
                f"(the gateway's limit for model {model})"
            )


def parse_per_model_limits(items: Iterable[str]) -> dict[str, int]:
    """``["sentiment=500", "digits=64"]`` -> ``{"sentiment": 500, "digits": 64}``."""
    limits = {}
    for item in items:
        name, separator, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not separator or not name or not value.isdigit():
            raise ValueError(f"expected model=rows (rows a whole number >= 0), got {item!r}")
        limits[name] = int(value)
    return limits
