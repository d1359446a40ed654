"""TF Serving's REST request and response formats <-> TensorFlow Serving protos.

Mirrors tensorflow_serving/util/json_tensor.cc (the code behind TF Serving's REST
API) rule for rule: row ("instances") and columnar ("inputs") requests, ``{"b64":
...}`` strings, responses keyed "predictions"/"outputs" with the name left out
when there is one output, ``*_bytes`` outputs as base64, classify/regress
examples and results. Where TF Serving leaves a bad payload to fail inside the
model (wrong rank, fixed dimensions, unknown input names, small integer types
that overflow, float16), requests are checked here against the signature first,
so the caller gets a 400 that names the input and what it expects.

Large numeric tensors stay in C as far as possible: the nested lists from the
JSON parser are flattened level by level with ``itertools.chain`` (which also
proves they are not ragged), the leaves' types are checked with one
``set(map(type, ...))``, and numpy converts the flat list in one call.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
from google.protobuf import json_format

from predictions.tfserving import jsonio
from predictions.tfserving.errors import InvalidInput, UpstreamError
from predictions.tfserving.protos import (
    classification_pb2,
    example_pb2,
    feature_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    input_pb2,
    predict_pb2,
    regression_pb2,
    tensor_pb2,
    types_pb2,
)
from predictions.tfserving.signatures import (
    DEFAULT_SIGNATURE,
    SIGNATURE_DEF_FIELD,
    ModelSignatures,
    TensorSpec,
    shape_text,
)
from predictions.tfserving.tensors import (
    DType,
    array_from_tensor_proto,
    dtype_info,
    dtype_name,
    shape_proto,
    tensor_proto_from_array,
)

SIGNATURE_KEY = "signature_name"
INSTANCES_KEY = "instances"
INPUTS_KEY = "inputs"
PREDICTIONS_KEY = "predictions"
OUTPUTS_KEY = "outputs"
CONTEXT_KEY = "context"
EXAMPLES_KEY = "examples"
# TF Serving answers classify and regress under "results" (its api_rest.md shows
# "result" in one place, but json_tensor.cc and its own example output say "results").
RESULTS_KEY = "results"
B64_KEY = "b64"
BYTES_SUFFIX = "_bytes"

_MAX_DEBUG_BYTES = 256
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT64_MAX = 2**64 - 1

# Python types a JSON parser produces that each kind of tensor accepts. Exact types:
# bool is an int subclass, and TF Serving rejects true/false for numeric tensors.
_ACCEPTED_TYPES: Mapping[str, frozenset[type]] = {
    "f": frozenset({float, int}),
    "i": frozenset({int}),
    "u": frozenset({int}),
    "b": frozenset({bool}),
}


@dataclass(frozen=True)
class PredictInputs:
    """A predict request body converted to tensors, ready for PredictRequest.inputs."""

    tensors: dict[str, tensor_pb2.TensorProto]
    columnar: bool
    signature_name: str


# ---------------------------------------------------------------------------
# predict: request


def parse_predict_request(body: object, signatures: ModelSignatures) -> PredictInputs:
    """Convert a parsed TF Serving predict body to input tensors, validated against the signature.

    Raises InvalidInput for anything TF Serving would reject, and for inputs that do not
    match the signature's names, dtypes or shapes.
    """
    document = _require_object(body)
    signature = signatures.signature(_signature_name(document))
    if not signature.inputs:
        raise InvalidInput(f"Failed to get input map for signature: {signature.name}")
    has_instances = INSTANCES_KEY in document
    has_inputs = INPUTS_KEY in document
    if has_instances and has_inputs:
        raise InvalidInput(
            "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist"
        )
    with jsonio.gc_paused():  # the flattening allocates one list per row of the tensor
        if has_instances:
            tensors = _tensors_from_instances(
                document[INSTANCES_KEY], signature.inputs, signature.name
            )
        elif has_inputs:
            tensors = _tensors_from_inputs(document[INPUTS_KEY], signature.inputs, signature.name)
        else:
            raise InvalidInput("Missing 'inputs' or 'instances' key")
    return PredictInputs(tensors=tensors, columnar=has_inputs, signature_name=signature.name)


def _require_object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput(f"JSON Value: {_debug_text(body)} Is not object")
    return body


def _signature_name(document: Mapping[str, Any]) -> str:
    name = document.get(SIGNATURE_KEY, DEFAULT_SIGNATURE)
    if not isinstance(name, str):
        raise InvalidInput(
            f"JSON Value: {_debug_text(name)} not formatted correctly. "
            "'signature_name' key must be a string value."
        )
    return name or DEFAULT_SIGNATURE


def _is_b64_object(value: object) -> bool:
    return type(value) is dict and len(value) == 1 and isinstance(value.get(B64_KEY), str)


def _is_named_object(value: object) -> bool:
    return type(value) is dict and not _is_b64_object(value)


def _input_names(inputs: Mapping[str, TensorSpec]) -> str:
    return ", ".join(f"{name} ({spec.describe()})" for name, spec in inputs.items())


def _unknown_input(
    name: str, inputs: Mapping[str, TensorSpec], signature_name: str
) -> InvalidInput:
    return InvalidInput(
        f"JSON object: does not have named input: {name}. "
        f"Signature '{signature_name}' has inputs: {_input_names(inputs)}"
    )


def _tensors_from_instances(
    instances: object, inputs: Mapping[str, TensorSpec], signature_name: str
) -> dict[str, tensor_pb2.TensorProto]:
    if type(instances) is not list:
        raise InvalidInput("Expecting 'instances' to be an list/array")
    if not instances:
        raise InvalidInput("No values in 'instances' array")
    if not _is_named_object(instances[0]):
        if len(inputs) > 1:
            raise InvalidInput(
                "instances is a plain list, but expecting list of objects as multiple input "
                f"tensors required as per tensorinfo_map: {_input_names(inputs)}"
            )
        for index, instance in enumerate(instances):
            if _is_named_object(instance):
                raise InvalidInput(
                    f"Expecting value/list but got object at item {index} of input list"
                )
        (spec,) = inputs.values()
        return {spec.name: _tensor_from_json(instances, spec, _Location(INSTANCES_KEY, row=True))}

    columns: dict[str, list[Any]] = {name: [] for name in inputs}
    for index, instance in enumerate(instances):
        if not _is_named_object(instance):
            kind = "list" if type(instance) is list else "value"
            raise InvalidInput(f"Expecting object but got {kind} at item {index} of input list")
        if instance.keys() != inputs.keys():
            _raise_for_instance_keys(index, instance, inputs, signature_name)
        for name, value in instance.items():
            columns[name].append(value)
    return {
        name: _tensor_from_json(columns[name], spec, _Location(INSTANCES_KEY, name=name, row=True))
        for name, spec in inputs.items()
    }


def _raise_for_instance_keys(
    index: int, instance: Mapping[str, Any], inputs: Mapping[str, TensorSpec], signature_name: str
) -> None:
    for name in instance:
        if name not in inputs:
            error = _unknown_input(name, inputs, signature_name)
            raise InvalidInput(
                f"Failed to process element: {index} key: {name} of 'instances' list. "
                f"Error: {error.message}"
            )
    missing = [name for name in inputs if name not in instance]
    raise InvalidInput(
        f"Failed to process element: {index} of 'instances' list. JSON object keys must be "
        f"equal to: {','.join(inputs)}. Missing: "
        + ", ".join(f"{name} ({inputs[name].describe()})" for name in missing)
    )


def _tensors_from_inputs(
    value: object, inputs: Mapping[str, TensorSpec], signature_name: str
) -> dict[str, tensor_pb2.TensorProto]:
    if not _is_named_object(value):
        if len(inputs) > 1:
            raise InvalidInput(
                "inputs is a plain value/list, but expecting an object as multiple input "
                f"tensors required as per tensorinfo_map: {_input_names(inputs)}"
            )
        (spec,) = inputs.values()
        return {spec.name: _tensor_from_json(value, spec, _Location(INPUTS_KEY))}
    named: dict[str, Any] = value
    for name in named:
        if name not in inputs:
            raise _unknown_input(name, inputs, signature_name)
    for name, spec in inputs.items():
        if name not in named:
            raise InvalidInput(
                f"Missing named input: {name} in 'inputs' object. "
                f"Input '{name}' expects {spec.describe()}"
            )
    return {
        name: _tensor_from_json(named[name], spec, _Location(INPUTS_KEY, name=name))
        for name, spec in inputs.items()
    }


@dataclass(frozen=True)
class _Location:
    """Where an input's values sit in the body, to point at a bad value in messages."""

    root: str
    name: str | None = None
    row: bool = False

    def path(self, indices: Sequence[int]) -> str:
        if self.name is None:
            return self.root + "".join(f"[{i}]" for i in indices)
        if self.row:  # indices[0] is the instance, the rest are inside the named value
            head = f"{self.root}[{indices[0]}]" if indices else self.root
            return f"{head}.{self.name}" + "".join(f"[{i}]" for i in indices[1:])
        return f"{self.root}.{self.name}" + "".join(f"[{i}]" for i in indices)


def _input_error(spec: TensorSpec, detail: str) -> InvalidInput:
    return InvalidInput(f"Input '{spec.name}' expects {spec.describe()}; {detail}")


def _tensor_from_json(value: object, spec: TensorSpec, where: _Location) -> tensor_pb2.TensorProto:
    try:
        info = dtype_info(spec.dtype)
    except ValueError:
        raise _input_error(spec, "the REST API cannot convert that type") from None
    shape, leaves, leaf_types = _dense_leaves(value, spec, where)
    if not spec.accepts_shape(shape):
        got = f"got shape {shape_text(shape)}"
        if where.row and shape:
            got += f" ({shape[0]} instances of shape {shape_text(shape[1:])})"
        raise _input_error(spec, got)
    if info.enum == types_pb2.DT_STRING:
        proto = tensor_pb2.TensorProto(dtype=info.enum, tensor_shape=shape_proto(shape))
        proto.string_val.extend(_string_values(leaves, spec, shape, where))
        return proto
    array = _numeric_array(leaves, leaf_types, info, spec, shape, where)
    return tensor_proto_from_array(array, info.enum)


def _dense_leaves(
    value: object, spec: TensorSpec, where: _Location
) -> tuple[tuple[int, ...], list, set[type]]:
    """Shape, leaves in C order and leaf types of a nested list; InvalidInput if it is ragged."""
    if type(value) is not list:
        return (), [value], {type(value)}
    shape: list[int] = []
    level: list[Any] = [value]
    while True:
        types = set(map(type, level))
        if types != {list}:
            if list in types:  # lists and values mixed at one depth
                _raise_ragged(value, spec, where)
            return tuple(shape), level, types
        lengths = set(map(len, level))
        if len(lengths) != 1:
            _raise_ragged(value, spec, where)
        (length,) = lengths
        shape.append(length)
        if length == 0:
            return tuple(shape), [], set()
        level = list(itertools.chain.from_iterable(level))


def _raise_ragged(value: list, spec: TensorSpec, where: _Location) -> None:
    # The expected shape is the one the first elements describe, as in TF Serving.
    expected: list[int] = []
    node: Any = value
    while type(node) is list:
        expected.append(len(node))
        if not node:
            break
        node = node[0]

    def first_irregular(node: Any, depth: int, indices: tuple[int, ...]) -> str | None:
        if depth == len(expected):
            if type(node) is list:
                return f"{where.path(indices)} is a list where a single value was expected"
            return None
        if type(node) is not list:
            return (
                f"{where.path(indices)} is a single value where a list of "
                f"{expected[depth]} was expected"
            )
        if len(node) != expected[depth]:
            return (
                f"{where.path(indices)} has {len(node)} elements where "
                f"{expected[depth]} were expected"
            )
        for index, child in enumerate(node):
            found = first_irregular(child, depth + 1, (*indices, index))
            if found:
                return found
        return None

    problem = first_irregular(value, 0, ())
    raise _input_error(spec, f"got a ragged list: {problem}")


def _position(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat_index, shape)) if shape else ()


def _type_error(
    spec: TensorSpec, leaf: object, flat_index: int, shape: tuple[int, ...], where: _Location
) -> InvalidInput:
    path = where.path(_position(flat_index, shape))
    return _input_error(
        spec,
        f"{path}: JSON Value: {_debug_text(leaf)} Type: {_json_type(leaf)} "
        f"is not of expected type: {dtype_name(spec.dtype)}",
    )


def _numeric_array(
    leaves: list,
    leaf_types: set[type],
    info: DType,
    spec: TensorSpec,
    shape: tuple[int, ...],
    where: _Location,
) -> np.ndarray:
    accepted = _ACCEPTED_TYPES[info.numpy.kind]
    if not leaf_types <= accepted:
        index = next(i for i, leaf in enumerate(leaves) if type(leaf) not in accepted)
        raise _type_error(spec, leaves[index], index, shape, where)
    kind = info.numpy.kind
    if kind == "f":
        try:
            # Like TF Serving, numbers beyond the type's range become +-inf.
            with np.errstate(over="ignore"):
                array = np.array(leaves, dtype=info.numpy)
        except OverflowError:  # an integer too large for even a double
            index = next(i for i, leaf in enumerate(leaves) if not _fits_double(leaf))
            raise _range_error(spec, leaves, index, shape, where) from None
    elif kind in "iu":
        array = _integer_array(leaves, info, spec, shape, where)
    else:
        array = np.array(leaves, dtype=info.numpy)
    return array.reshape(shape)


def _fits_double(value: float) -> bool:
    try:
        float(value)
    except OverflowError:
        return False
    return True


def _integer_array(
    leaves: list, info: DType, spec: TensorSpec, shape: tuple[int, ...], where: _Location
) -> np.ndarray:
    limits = np.iinfo(info.numpy)
    wide = np.uint64 if info.numpy.kind == "u" and limits.bits == 64 else np.int64
    try:
        array = np.array(leaves, dtype=wide)
    except OverflowError:
        index = next(i for i, leaf in enumerate(leaves) if not limits.min <= leaf <= limits.max)
        raise _range_error(spec, leaves, index, shape, where) from None
    if array.size and array.dtype != info.numpy:
        outside = (array < limits.min) | (array > limits.max)
        if outside.any():
            raise _range_error(spec, leaves, int(outside.argmax()), shape, where)
        array = array.astype(info.numpy)
    return array


def _range_error(
    spec: TensorSpec, leaves: list, index: int, shape: tuple[int, ...], where: _Location
) -> InvalidInput:
    path = where.path(_position(index, shape))
    bounds = ""
    if spec.dtype not in (types_pb2.DT_HALF, types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE):
        limits = np.iinfo(dtype_info(spec.dtype).numpy)
        bounds = f" [{limits.min}, {limits.max}]"
    return _input_error(
        spec,
        f"{path}: JSON Value: {_debug_text(leaves[index])} is out of range for "
        f"{dtype_name(spec.dtype)}{bounds}",
    )


def _string_values(
    leaves: list, spec: TensorSpec, shape: tuple[int, ...], where: _Location
) -> list[bytes]:
    values = []
    for index, leaf in enumerate(leaves):
        kind = type(leaf)
        if kind is str:
            values.append(leaf.encode("utf-8"))
        elif kind is dict:
            try:
                values.append(_decode_b64_object(leaf))
            except ValueError as error:
                path = where.path(_position(index, shape))
                raise _input_error(spec, f"{path}: {error}") from None
        else:
            raise _type_error(spec, leaf, index, shape, where)
    return values


def _decode_b64_object(value: dict) -> bytes:
    """The bytes of ``{"b64": "..."}``; ValueError worded as TF Serving words it."""
    if not _is_b64_object(value):
        raise ValueError(
            f"JSON Value: {_debug_text(value)} not formatted correctly for base64 data"
        )
    text = value[B64_KEY]
    try:
        # TF Serving (absl::Base64Unescape) accepts the padding being left out. strict_mode
        # rejects stray characters in C (b64decode(validate=True) runs a regex: 1.7x slower).
        return binascii.a2b_base64(text + "=" * (-len(text) % 4), strict_mode=True)
    except ValueError:  # binascii.Error, or a str that is not ASCII
        raise ValueError("Unable to base64 decode") from None


def _json_type(value: object) -> str:
    if value is None:
        return "Null"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, dict):
        return "Object"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, str):
        return "String"
    return "Number"


def _debug_text(value: object) -> str:
    """A value as (at most 256 bytes of) JSON, for error messages, as TF Serving shows it."""
    try:
        text = jsonio.dumps(value)
    except TypeError:
        text = repr(value).encode()
    if len(text) > _MAX_DEBUG_BYTES:
        text = text[:_MAX_DEBUG_BYTES] + b"..."
    return text.decode("utf-8", "replace")


# ---------------------------------------------------------------------------
# predict: response


def render_predict_response(response: predict_pb2.PredictResponse, columnar: bool) -> dict:
    """The JSON body TF Serving returns for a PredictResponse (serialise with jsonio.dumps).

    Numeric outputs stay numpy arrays (orjson writes them directly); one output is
    written without its name; outputs named ``*_bytes`` become ``{"b64": ...}``.
    """
    outputs = response.outputs
    if not outputs:
        raise InvalidInput("Cannot convert empty tensor map to JSON")
    values = {name: _output_value(name, outputs[name]) for name in sorted(outputs)}
    if columnar:
        if len(values) == 1:
            return {OUTPUTS_KEY: next(iter(values.values()))}
        return {OUTPUTS_KEY: values}
    return {PREDICTIONS_KEY: _rows(values)}


def _output_value(name: str, proto: tensor_pb2.TensorProto) -> Any:
    try:
        array = array_from_tensor_proto(proto)
    except ValueError:
        raise InvalidInput(
            f"Failed to write JSON value for tensor type: {dtype_name(proto.dtype)}"
        ) from None
    if proto.dtype == types_pb2.DT_STRING:
        as_text = _b64_object if name.endswith(BYTES_SUFFIX) else _utf8_text
        strings = np.empty(array.size, dtype=object)
        strings[:] = [as_text(value) for value in array.ravel()]
        array = strings.reshape(array.shape)
    # orjson writes a 0-d array as a one-element list; TF Serving writes the bare value.
    return array[()] if array.ndim == 0 else array


def _utf8_text(value: bytes) -> str:
    # TF Serving copies the bytes into the JSON as they are; invalid UTF-8 would make
    # the whole body invalid, so such bytes become U+FFFD here.
    return value.decode("utf-8", "replace")


def _b64_object(value: bytes) -> dict[str, str]:
    return {B64_KEY: base64.b64encode(value).decode("ascii")}


def _rows(values: dict[str, Any]) -> Any:
    batch_size = None
    for name, value in values.items():
        if not isinstance(value, np.ndarray):
            raise InvalidInput(f"Tensor name: {name} has no shape information ")
        if batch_size is not None and value.shape[0] != batch_size:
            raise InvalidInput(
                f"Tensor name: {name} has inconsistent batch size: {value.shape[0]} "
                f"expecting: {batch_size}"
            )
        batch_size = value.shape[0]
    if len(values) == 1:
        return next(iter(values.values()))
    return [{name: value[row] for name, value in values.items()} for row in range(batch_size or 0)]


# ---------------------------------------------------------------------------
# classify / regress


def parse_examples_request(body: object) -> tuple[str, input_pb2.Input]:
    """The signature name and tf.Example input of a TF Serving classify/regress body.

    With a "context", TF Serving sends an ExampleListWithContext (the server merges
    the context into every example); without one, an ExampleList.
    """
    document = _require_object(body)
    signature_name = _signature_name(document)
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
        raise InvalidInput(f"Example must be JSON object but got JSON {_json_type(value)}")
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
        if not _fits_double(value):
            raise InvalidInput(f"Feature: {name} has a number too big to be stored in double")
        return "float", float(value)  # beyond 64 bits: a double, as rapidjson parses it
    if _is_b64_object(value):
        try:
            return "bytes", _decode_b64_object(value)
        except ValueError as error:
            raise InvalidInput(f"Feature: {name}: {error}") from None
    raise InvalidInput(
        f"Feature: {name} has element with unexpected JSON type: {_json_type(value)}"
    )


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


# ---------------------------------------------------------------------------
# status and metadata


def render_model_status(response: get_model_status_pb2.GetModelStatusResponse) -> dict:
    """TF Serving's JSON for GetModelStatusResponse (every field printed, int64 as string)."""
    state_names = get_model_status_pb2.ModelVersionStatus.State
    return {
        "model_version_status": [
            {
                "version": str(status.version),
                "state": state_names.Name(status.state),
                "status": {
                    "error_code": _error_code_name(status.status.error_code),
                    "error_message": status.status.error_message,
                },
            }
            for status in response.model_version_status
        ]
    }


def _error_code_name(code: int) -> str:
    field = get_model_status_pb2.ModelVersionStatus.DESCRIPTOR.fields_by_name["status"]
    code_enum = field.message_type.fields_by_name["error_code"].enum_type
    value = code_enum.values_by_number.get(code)
    return value.name if value is not None else str(code)


_PROTO_JSON_OPTIONS: Mapping[str, bool] = {
    "preserving_proto_field_name": True,
    "always_print_fields_with_no_presence": True,
}


def render_model_metadata(response: get_model_metadata_pb2.GetModelMetadataResponse) -> dict:
    """TF Serving's JSON for GetModelMetadataResponse: model_spec and metadata.signature_def."""
    if SIGNATURE_DEF_FIELD not in response.metadata:
        raise UpstreamError.from_status(
            grpc.StatusCode.INTERNAL,
            "Failed to find 'signature_def' key in the GetModelMetadataResponse metadata map.",
        )
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_map)
    return {
        "model_spec": json_format.MessageToDict(response.model_spec, **_PROTO_JSON_OPTIONS),
        "metadata": {
            SIGNATURE_DEF_FIELD: json_format.MessageToDict(signature_map, **_PROTO_JSON_OPTIONS)
        },
    }
