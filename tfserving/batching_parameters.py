"""TF Serving's --batching_parameters_file: a BatchingParameters text proto.

The embedded model server schedules its batches by it; the gateway reads the same file
for its default batch limit (``max_batch_size``), so a request TF Serving's batching
would refuse is refused before it is sent. Only protobuf is needed, no TensorFlow.

tensorflow-serving-api does not ship session_bundle_config_pb2, where
BatchingParameters lives. Rather than parse the text by hand, the message is
declared here with the same package, field names, numbers and wrapper types as
tensorflow_serving/servables/tensorflow/session_bundle_config.proto, and the file
is read with protobuf's own text_format, so exactly the files TF Serving accepts
are accepted (and the same typos are rejected).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    text_format,
    wrappers_pb2,
)

_Field = descriptor_pb2.FieldDescriptorProto

# (name, number, type, wrapper message or None, repeated)
_FIELDS = (
    ("max_batch_size", 1, _Field.TYPE_MESSAGE, "Int64Value", False),
    ("batch_timeout_micros", 2, _Field.TYPE_MESSAGE, "Int64Value", False),
    ("max_enqueued_batches", 3, _Field.TYPE_MESSAGE, "Int64Value", False),
    ("num_batch_threads", 4, _Field.TYPE_MESSAGE, "Int64Value", False),
    ("thread_pool_name", 5, _Field.TYPE_MESSAGE, "StringValue", False),
    ("allowed_batch_sizes", 6, _Field.TYPE_INT64, None, True),
    ("pad_variable_length_inputs", 7, _Field.TYPE_BOOL, None, False),
    ("enable_large_batch_splitting", 8, _Field.TYPE_MESSAGE, "BoolValue", False),
    ("max_execution_batch_size", 9, _Field.TYPE_MESSAGE, "Int64Value", False),
)


def _batching_parameters_class() -> type:
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="tfserving/session_bundle_config_batching.proto",
        package="tensorflow.serving",
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )
    message = file_proto.message_type.add(name="BatchingParameters")
    for name, number, field_type, wrapper, repeated in _FIELDS:
        field = message.field.add(
            name=name,
            number=number,
            type=field_type,
            label=_Field.LABEL_REPEATED if repeated else _Field.LABEL_OPTIONAL,
        )
        if wrapper:
            field.type_name = f".google.protobuf.{wrapper}"
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(file_proto)
    descriptor = pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters")
    return message_factory.GetMessageClass(descriptor)


BatchingParametersProto = _batching_parameters_class()


class BatchingParametersError(ValueError):
    """The batching parameters file cannot be used."""


@dataclass(frozen=True)
class BatchingParameters:
    """The scheduler settings, with TF Serving's defaults for fields left unset."""

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 10
    num_batch_threads: int = os.cpu_count() or 1
    thread_pool_name: str = "model_server_batch_threads"
    allowed_batch_sizes: tuple[int, ...] = ()
    pad_variable_length_inputs: bool = False

    def padded_size(self, size: int) -> int:
        """The smallest allowed batch size that holds ``size`` (``size`` if none are set)."""
        for allowed in self.allowed_batch_sizes:
            if allowed >= size:
                return allowed
        return size


def batching_parameters_from_text(text: str) -> BatchingParameters:
    proto = BatchingParametersProto()
    try:
        text_format.Parse(text, proto)
    except text_format.ParseError as error:
        raise BatchingParametersError(f"invalid batching parameters: {error}") from error
    defaults = BatchingParameters()

    def wrapped(name: str, default: object) -> object:
        return getattr(proto, name).value if proto.HasField(name) else default

    parameters = BatchingParameters(
        max_batch_size=int(wrapped("max_batch_size", defaults.max_batch_size)),
        batch_timeout_micros=int(wrapped("batch_timeout_micros", defaults.batch_timeout_micros)),
        max_enqueued_batches=int(wrapped("max_enqueued_batches", defaults.max_enqueued_batches)),
        num_batch_threads=int(wrapped("num_batch_threads", defaults.num_batch_threads)),
        thread_pool_name=str(wrapped("thread_pool_name", defaults.thread_pool_name)),
        allowed_batch_sizes=tuple(int(size) for size in proto.allowed_batch_sizes),
        pad_variable_length_inputs=bool(proto.pad_variable_length_inputs),
    )
    _validate(parameters)
    return parameters


def _validate(parameters: BatchingParameters) -> None:
    if parameters.max_batch_size < 1:
        raise BatchingParametersError("max_batch_size must be positive")
    if parameters.num_batch_threads < 1:
        raise BatchingParametersError("num_batch_threads must be positive")
    if parameters.max_enqueued_batches < 1:
        raise BatchingParametersError("max_enqueued_batches must be positive")
    if parameters.batch_timeout_micros < 0:
        raise BatchingParametersError("batch_timeout_micros must not be negative")
    sizes = parameters.allowed_batch_sizes
    if sizes:
        if any(later <= earlier for earlier, later in itertools.pairwise(sizes)):
            raise BatchingParametersError(
                "allowed_batch_sizes entries must be monotonically increasing"
            )
        if sizes[-1] != parameters.max_batch_size:
            # TF Serving's own wording (bundle_factory_util.cc).
            raise BatchingParametersError(
                "Last entry in allowed_batch_sizes must match max_batch_size; last entry was "
                f"{sizes[-1]}; expected {parameters.max_batch_size}"
            )


def read_batching_parameters(path: Path) -> BatchingParameters:
    try:
        text = path.read_text()
    except OSError as error:
        raise BatchingParametersError(
            f"cannot read batching parameters file {path}: {error}"
        ) from error
    return batching_parameters_from_text(text)
