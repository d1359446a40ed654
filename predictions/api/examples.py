"""Example request bodies: the demo models' own, and one made up for any signature.

The API docs (OpenAPI) show the demo examples with the answers the demo models
really give (a test posts each one and compares). The browsable API pre-fills its
form with a body the model's signature accepts: the demo example when it fits the
signature, otherwise one generated from the signature (batch of one, zeros for
numbers, "example" for strings).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfserving import codec
from tfserving.codec.json_values import BYTES_SUFFIX
from tfserving.errors import InvalidInput
from tfserving.models import METHOD_NAMES, InferenceMethod
from tfserving.protos import types_pb2
from tfserving.signatures import (
    DEFAULT_SIGNATURE,
    ModelSignatures,
    Signature,
    TensorSpec,
)

EXAMPLE_STRING = "example"
_INTEGER_TYPES = frozenset(
    {
        types_pb2.DT_INT8,
        types_pb2.DT_INT16,
        types_pb2.DT_INT32,
        types_pb2.DT_INT64,
        types_pb2.DT_UINT8,
        types_pb2.DT_UINT16,
        types_pb2.DT_UINT32,
        types_pb2.DT_UINT64,
    }
)


@dataclass(frozen=True)
class Example:
    model: str
    method: InferenceMethod
    summary: str
    request: Mapping[str, Any]
    response: Mapping[str, Any]

    @property
    def key(self) -> str:
        return f"{self.model}_{self.method}"


def _seven() -> list:
    """A 28x28x1 drawing of a 7 (white on black, like the digits model's training images)."""
    image = np.zeros((28, 28, 1), dtype=np.float32)
    image[6:9, 7:21] = 1.0
    for row in range(9, 23):
        column = int(20 - (row - 9) * 0.5)
        image[row, column - 1 : column + 2] = 1.0
    return image.tolist()


DEMO_EXAMPLES: tuple[Example, ...] = (
    Example(
        model="half_plus_two",
        method="predict",
        summary="half_plus_two: y = 0.5x + 3 (version 2)",
        request={"instances": [1.0, 2.0, 5.0]},
        response={"predictions": [3.5, 4.0, 5.5]},
    ),
    Example(
        model="iris",
        method="predict",
        summary="iris: the species of a flower from its measurements (cm)",
        request={
            "instances": [
                {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
            ]
        },
        response={
            "predictions": [
                {
                    "probabilities": [0.99999, 1.03066e-05, 4.95623e-09],
                    "class_ids": 0,
                    "classes": "setosa",
                }
            ]
        },
    ),
    Example(
        model="sentiment",
        method="predict",
        summary="sentiment: is a sentence positive?",
        request={"instances": ["I love this movie"]},
        response={
            "predictions": [
                {
                    "score": 0.869457,
                    "label": "positive",
                    "text_bytes": {"b64": "aSBsb3ZlIHRoaXMgbW92aWU="},
                }
            ]
        },
    ),
    Example(
        model="digits",
        method="predict",
        summary="digits: a 28x28 drawing of a 7, in the columnar format",
        request={"inputs": {"image": [_seven()]}},
        response={
            "outputs": {
                "probabilities": [
                    [
                        1.83976e-10,
                        3.47396e-12,
                        2.7009e-13,
                        3.41395e-09,
                        4.97552e-25,
                        1.19015e-14,
                        1.65918e-29,
                        1.0,
                        1.03652e-13,
                        1.05819e-09,
                    ]
                ],
                "class_ids": [7],
            }
        },
    ),
    Example(
        model="iris",
        method="classify",
        summary="iris: class scores for a tf.Example",
        request={
            "signature_name": "classification",
            "examples": [
                {"sepal_length": 6.4, "sepal_width": 3.2, "petal_length": 4.5, "petal_width": 1.5}
            ],
        },
        response={
            "results": [[["setosa", 0.00164], ["versicolor", 0.99668], ["virginica", 0.00168]]]
        },
    ),
    Example(
        model="iris",
        method="regress",
        summary="iris: petal width from the other measurements",
        request={
            "signature_name": "regression",
            "examples": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4}],
        },
        response={"results": [0.21625]},
    ),
)


def demo_examples(method: InferenceMethod) -> tuple[Example, ...]:
    return tuple(example for example in DEMO_EXAMPLES if example.method == method)


def example_request(signatures: ModelSignatures, method: InferenceMethod) -> dict[str, Any]:
    """A request body for ``method`` that ``signatures`` accepts (see the module docstring)."""
    for example in DEMO_EXAMPLES:
        if (
            example.model == signatures.model
            and example.method == method
            and _fits(example, signatures)
        ):
            return dict(example.request)
    if method == "predict":
        return _generated_predict_request(signatures)
    return _generated_examples_request(signatures, method)


def signature_summary(signatures: ModelSignatures, body: Mapping[str, Any]) -> dict[str, Any]:
    """What the browsable API's page of an inference endpoint shows above its form: the
    signature the pre-filled ``body`` runs, its inputs and outputs."""
    name = str(body.get("signature_name") or DEFAULT_SIGNATURE)
    signature = signatures.signatures.get(name)
    summary: dict[str, Any] = {
        "model": signatures.model,
        "version": signatures.version,
        "signature_name": name,
    }
    if signature is not None:
        summary["method_name"] = signature.method_name
        summary["inputs"] = {alias: spec.describe() for alias, spec in signature.inputs.items()}
        summary["outputs"] = {alias: spec.describe() for alias, spec in signature.outputs.items()}
    # "__saved_model_init_op" and the like are TensorFlow's own, not for clients.
    others = {key for key in signatures.signatures if not key.startswith("__")} - {name}
    summary["other_signatures"] = sorted(others)
    summary["how"] = "Edit the body below and POST it; the answer replaces this summary."
    return summary


def format_body(body: Mapping[str, Any]) -> str:
    """JSON for a text box: one line per key and per instance, each tensor on one line."""
    lines = []
    for key, value in body.items():
        if isinstance(value, list) and any(isinstance(item, list | dict) for item in value):
            items = ",\n    ".join(json.dumps(item) for item in value)
            lines.append(f'  "{key}": [\n    {items}\n  ]')
        else:
            lines.append(f'  "{key}": {json.dumps(value)}')
    return "{\n" + ",\n".join(lines) + "\n}"


def _fits(example: Example, signatures: ModelSignatures) -> bool:
    if example.method == "predict":
        try:
            inputs = codec.parse_predict_request(example.request, signatures)
        except InvalidInput:
            return False
        # The codec leaves shapes to the model (as TF Serving does); a pre-filled body
        # should still have the shapes the signature declares.
        specs = signatures.signature(inputs.signature_name).inputs
        return all(
            _declares(specs[name].shape, tuple(dim.size for dim in tensor.tensor_shape.dim))
            for name, tensor in inputs.tensors.items()
        )
    name = str(example.request.get("signature_name") or DEFAULT_SIGNATURE)
    signature = signatures.signatures.get(name)
    return signature is not None and signature.method_name == METHOD_NAMES[example.method]


def _declares(declared: tuple[int, ...] | None, shape: tuple[int, ...]) -> bool:
    """Whether a signature's shape (-1: any size, None: any rank) admits ``shape``."""
    if declared is None:
        return True
    return len(declared) == len(shape) and all(
        want < 0 or want == got for want, got in zip(declared, shape, strict=True)
    )


def _generated_predict_request(signatures: ModelSignatures) -> dict[str, Any]:
    name, signature = _signature_for(signatures, "predict")
    body: dict[str, Any] = {} if name == DEFAULT_SIGNATURE else {"signature_name": name}
    specs = signature.inputs
    if all(spec.shape and spec.shape[0] == -1 for spec in specs.values()):
        # Row format, one instance: each input without its batch dimension.
        values = {alias: _value(alias, spec, spec.shape[1:]) for alias, spec in specs.items()}
        body["instances"] = [values if len(values) != 1 else next(iter(values.values()))]
    else:
        # An input without a batch dimension (or of unknown rank): columnar format.
        body["inputs"] = {alias: _value(alias, spec, spec.shape) for alias, spec in specs.items()}
    return body


def _generated_examples_request(
    signatures: ModelSignatures, method: InferenceMethod
) -> dict[str, Any]:
    # The features a tf.Example needs are not in the signature (it takes serialized
    # protos): the body shows the format, with one made-up feature.
    name, _ = _signature_for(signatures, method)
    body: dict[str, Any] = {} if name == DEFAULT_SIGNATURE else {"signature_name": name}
    body["examples"] = [{"feature": 0.0}]
    return body


def _signature_for(signatures: ModelSignatures, method: InferenceMethod) -> tuple[str, Signature]:
    """serving_default when it does ``method``, else the first signature that does."""
    wanted = METHOD_NAMES[method]
    candidates = sorted(
        signatures.signatures.items(), key=lambda item: item[0] != DEFAULT_SIGNATURE
    )
    for name, signature in candidates:
        if signature.method_name == wanted:
            return name, signature
    return DEFAULT_SIGNATURE, signatures.signature(DEFAULT_SIGNATURE)


def _concrete(shape: tuple[int, ...] | None) -> tuple[int, ...]:
    """Unknown sizes become 1; an unknown rank becomes a batch of one."""
    if shape is None:
        return (1,)
    return tuple(1 if size < 0 else size for size in shape)


def _value(alias: str, spec: TensorSpec, shape: tuple[int, ...] | None) -> Any:
    value = _leaf(alias, spec)
    for size in reversed(_concrete(shape)):
        value = [value] * size
    return value


def _leaf(alias: str, spec: TensorSpec) -> Any:
    if spec.dtype == types_pb2.DT_STRING:
        if alias.endswith(BYTES_SUFFIX):
            return {"b64": base64.b64encode(EXAMPLE_STRING.encode()).decode()}
        return EXAMPLE_STRING
    if spec.dtype == types_pb2.DT_BOOL:
        return False
    if spec.dtype in _INTEGER_TYPES:
        return 0
    return 0.0
