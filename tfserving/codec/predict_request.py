"""TF Serving's predict request body (row "instances" or columnar "inputs") -> input tensors.

Refuses exactly what tensorflow_serving/util/json_tensor.cc refuses before a model
runs, rule for rule: the format is chosen by the key, row-format objects must all
name the signature's inputs, columnar objects must hold every input (other keys
are ignored, as there), lists must not be ragged, and values must convert to the
input's dtype (strings may be ``{"b64": ...}``). Messages are TF Serving's, with
the input, where the bad value sits and what the signature expects added.

Shapes are not checked against the signature: TF Serving leaves them to the model,
and models accept more than their signature says (TF Serving's own half_plus_two
declares x as [-1,1] and answers ``{"instances": [1.0, 2.0, 5.0]}``). A shape the
model cannot take fails in the model server, whose message reaches the caller.

Large numeric tensors stay in C as far as possible: the nested lists from the
JSON parser are flattened level by level with ``itertools.chain`` (which also
proves they are not ragged), the leaves' types are checked with one
``set(map(type, ...))``, and numpy converts the flat list in one call.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfserving import jsonio
from tfserving.codec.json_values import (
    debug_text,
    decode_b64_object,
    fits_double,
    is_named_object,
    json_type,
    require_object,
    signature_name_of,
)
from tfserving.errors import InvalidInput
from tfserving.protos import tensor_pb2, types_pb2
from tfserving.signatures import ModelSignatures, TensorSpec
from tfserving.tensors import DType, dtype_info, dtype_name, shape_proto, tensor_proto_from_array

INSTANCES_KEY = "instances"
INPUTS_KEY = "inputs"

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


def parse_predict_request(body: object, signatures: ModelSignatures) -> PredictInputs:
    """Convert a parsed TF Serving predict body to input tensors for ``signatures``.

    Raises InvalidInput for what TF Serving's REST API refuses before running the
    model: a malformed body, input names that do not match the signature, ragged
    lists, values that do not convert to an input's dtype.
    """
    document = require_object(body)
    signature = signatures.signature(signature_name_of(document))
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
    if not is_named_object(instances[0]):
        if len(inputs) > 1:
            raise InvalidInput(
                "instances is a plain list, but expecting list of objects as multiple input "
                f"tensors required as per tensorinfo_map: {_input_names(inputs)}"
            )
        for index, instance in enumerate(instances):
            if is_named_object(instance):
                raise InvalidInput(
                    f"Expecting value/list but got object at item {index} of input list"
                )
        (spec,) = inputs.values()
        return {spec.name: _tensor_from_json(instances, spec, _Location(INSTANCES_KEY, row=True))}

    columns: dict[str, list[Any]] = {name: [] for name in inputs}
    for index, instance in enumerate(instances):
        if not is_named_object(instance):
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
    if not is_named_object(value):
        if len(inputs) > 1:
            raise InvalidInput(
                "inputs is a plain value/list, but expecting an object as multiple input "
                f"tensors required as per tensorinfo_map: {_input_names(inputs)}"
            )
        (spec,) = inputs.values()
        return {spec.name: _tensor_from_json(value, spec, _Location(INPUTS_KEY))}
    named: dict[str, Any] = value
    for name, spec in inputs.items():
        if name not in named:
            raise _missing_named_input(name, spec, named, inputs, signature_name)
    # Keys that are not inputs are ignored, as TF Serving ignores them.
    return {
        name: _tensor_from_json(named[name], spec, _Location(INPUTS_KEY, name=name))
        for name, spec in inputs.items()
    }


def _missing_named_input(
    name: str,
    spec: TensorSpec,
    named: Mapping[str, Any],
    inputs: Mapping[str, TensorSpec],
    signature_name: str,
) -> InvalidInput:
    message = (
        f"Missing named input: {name} in 'inputs' object. Input '{name}' expects {spec.describe()}"
    )
    unknown = [key for key in named if key not in inputs]
    if unknown:
        message += (
            f"; the object names {', '.join(unknown)}, which signature '{signature_name}' "
            "does not have"
        )
    return InvalidInput(message)


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
        f"{path}: JSON Value: {debug_text(leaf)} Type: {json_type(leaf)} "
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
            index = next(i for i, leaf in enumerate(leaves) if not fits_double(leaf))
            raise _range_error(spec, leaves, index, shape, where) from None
    elif kind in "iu":
        array = _integer_array(leaves, info, spec, shape, where)
    else:
        array = np.array(leaves, dtype=info.numpy)
    return array.reshape(shape)


# TF Serving reads int8, int16 and uint8 values as int32 (rapidjson's IsInt) and
# TensorFlow narrows them the way C does: 200 becomes -56 in an int8 tensor. The
# same range is accepted here and narrowed the same way, so the model sees what it
# would see behind TF Serving.
_WRAPPED_INTEGER_TYPES = frozenset({types_pb2.DT_INT8, types_pb2.DT_INT16, types_pb2.DT_UINT8})
_INT32 = np.iinfo(np.int32)


def _accepted_integer_range(dtype: int) -> tuple[int, int]:
    if dtype in _WRAPPED_INTEGER_TYPES:
        return int(_INT32.min), int(_INT32.max)
    limits = np.iinfo(dtype_info(dtype).numpy)
    return int(limits.min), int(limits.max)


def _integer_array(
    leaves: list, info: DType, spec: TensorSpec, shape: tuple[int, ...], where: _Location
) -> np.ndarray:
    low, high = _accepted_integer_range(info.enum)
    wide = np.uint64 if high > np.iinfo(np.int64).max else np.int64
    try:
        array = np.array(leaves, dtype=wide)
    except OverflowError:
        index = next(i for i, leaf in enumerate(leaves) if not low <= leaf <= high)
        raise _range_error(spec, leaves, index, shape, where) from None
    if array.size and array.dtype != info.numpy:
        outside = (array < low) | (array > high)
        if outside.any():
            raise _range_error(spec, leaves, int(outside.argmax()), shape, where)
        array = array.astype(info.numpy)  # wraps int8/int16/uint8, as TensorFlow does
    return array


def _range_error(
    spec: TensorSpec, leaves: list, index: int, shape: tuple[int, ...], where: _Location
) -> InvalidInput:
    path = where.path(_position(index, shape))
    bounds = ""
    if spec.dtype not in (types_pb2.DT_HALF, types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE):
        low, high = _accepted_integer_range(spec.dtype)
        bounds = f" [{low}, {high}]"
        if spec.dtype in _WRAPPED_INTEGER_TYPES:
            bounds += " (int32 values are accepted and wrap around, as in TF Serving)"
    return _input_error(
        spec,
        f"{path}: JSON Value: {debug_text(leaves[index])} is out of range for "
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
                values.append(decode_b64_object(leaf))
            except ValueError as error:
                path = where.path(_position(index, shape))
                raise _input_error(spec, f"{path}: {error}") from None
        else:
            raise _type_error(spec, leaf, index, shape, where)
    return values
