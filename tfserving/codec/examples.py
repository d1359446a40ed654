"""Classify and regress: JSON tf.Examples in, TF Serving's "results" out.

A body is ``{"examples": [...], "context": {...}}``; each feature's values become
an int64, float or bytes list by json_tensor.cc's rules.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfserving.codec.json_values import (
    decode_b64_object,
    fits_double,
    is_b64_object,
    json_type,
    require_object,
    signature_name_of,
)
from tfserving.errors import InvalidInput
from tfserving.protos import (
    classification_pb2,
    example_pb2,
    feature_pb2,
    input_pb2,
    regression_pb2,
)

CONTEXT_KEY = "context"
EXAMPLES_KEY = "examples"
# TF Serving answers classify and regress under "results" (its api_rest.md shows
# "result" in one place, but json_tensor.cc and its own example output say "results").
RESULTS_KEY = "results"

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT64_MAX = 2**64 - 1


def parse_examples_request(body: object) -> tuple[str, input_pb2.Input]:
    """The signature name and tf.Example input of a TF Serving classify/regress body.

    With a "context", TF Serving sends an ExampleListWithContext (the server merges
    the context into every example); without one, an ExampleList.
    """
    document = require_object(body)
    signature_name = signature_name_of(document)
    model_input = input_pb2.Input()
    has_context = CONTEXT_KEY in document
    if has_context:
        model_input.example_list_with_context.context.CopyFrom(
            _example_from_json(document[CONTEXT_KEY])
        )
    if EXAMPLES_KEY not in document:
        raise InvalidInput(
            "When method is classify or regress, key 'examples' is expected and was not found"
        )
    examples = document[EXAMPLES_KEY]
    if type(examples) is not list:
        raise InvalidInput("Expecting 'examples' value to be an list/array")
    if not examples:
        raise InvalidInput("'examples' value is an empty array")
    target = (
        model_input.example_list_with_context.examples
        if has_context
        else model_input.example_list.examples
    )
    target.extend(_example_from_json(example) for example in examples)
    return signature_name, model_input


def _example_from_json(value: object) -> example_pb2.Example:
    if type(value) is not dict:
        raise InvalidInput(f"Example must be JSON object but got JSON {json_type(value)}")
    example = example_pb2.Example()
    for name, content in value.items():
        example.features.feature[name].CopyFrom(_feature_from_json(name, content))
    return example


def _feature_from_json(name: str, content: object) -> feature_pb2.Feature:
    values = content if type(content) is list else [content]
    kind: str | None = None
    converted: list[Any] = []
    for value in values:
        value_kind, item = _feature_value(name, value)
        if kind is None:
            kind = value_kind
        elif kind != value_kind:
            raise InvalidInput(f"Unexpected element type in feature: {name} expecting type: {kind}")
        converted.append(item)
    feature = feature_pb2.Feature()
    if kind == "bytes":
        feature.bytes_list.value.extend(converted)
    elif kind == "float":
        feature.float_list.value.extend(converted)
    elif kind == "int64":
        feature.int64_list.value.extend(converted)
    return feature


def _feature_value(name: str, value: object) -> tuple[str, Any]:
    """(kind, value) for one JSON value in a feature, by TF Serving's rules."""
    kind = type(value)
    if kind is bool:
        return "int64", int(value)
    if kind is str:
        return "bytes", value.encode("utf-8")
    if kind is float:
        return "float", value
    if kind is int:
        if _INT64_MIN <= value <= _INT64_MAX:
            return "int64", value
        if 0 < value <= _UINT64_MAX:
            raise InvalidInput(f"Feature: {name} has uint64_t element. Only int64_t is supported.")
        if not fits_double(value):
            raise InvalidInput(f"Feature: {name} has a number too big to be stored in double")
        return "float", float(value)  # beyond 64 bits: a double, as rapidjson parses it
    if is_b64_object(value):
        try:
            return "bytes", decode_b64_object(value)
        except ValueError as error:
            raise InvalidInput(f"Feature: {name}: {error}") from None
    raise InvalidInput(f"Feature: {name} has element with unexpected JSON type: {json_type(value)}")


def render_classify_response(response: classification_pb2.ClassificationResponse) -> dict:
    """``{"results": [[[label, score], ...], ...]}``, one list per example, as TF Serving."""
    classifications = response.result.classifications
    if not classifications:
        raise InvalidInput("Cannot convert empty ClassificationResults to JSON")
    results = []
    for classification in classifications:
        labels = [entry.label for entry in classification.classes]
        # float32, so a score is written the way TF Serving writes it (0.7, not 0.699999988).
        scores = np.array([entry.score for entry in classification.classes], dtype=np.float32)
        results.append([[label, score] for label, score in zip(labels, scores, strict=True)])
    return {RESULTS_KEY: results}


def render_regress_response(response: regression_pb2.RegressionResponse) -> dict:
    """``{"results": [value, ...]}``, one value per example, as TF Serving."""
    regressions = response.result.regressions
    if not regressions:
        raise InvalidInput("Cannot convert empty RegressionResults to JSON")
    return {RESULTS_KEY: np.array([entry.value for entry in regressions], dtype=np.float32)}
