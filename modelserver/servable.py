"""One loaded version of a SavedModel: its signature metadata and callable signatures."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

log = logging.getLogger(__name__)

SERVE_TAG = "serve"
SAVED_MODEL_FILENAMES = ("saved_model.pb", "saved_model.pbtxt")


def dtype_string(dtype: int) -> str:
    """TensorFlow's DataTypeString: DT_FLOAT -> "float", DT_STRING -> "string"."""
    return types_pb2.DataType.Name(dtype).removeprefix("DT_").lower()


@dataclass(frozen=True)
class TensorInfo:
    """One signature input or output: its alias, graph tensor name, dtype and shape."""

    alias: str
    feed_name: str
    dtype: int
    shape: tuple[int, ...] | None  # -1 = unknown dimension, None = unknown rank

    def accepts_shape(self, shape: Sequence[int]) -> bool:
        if self.shape is None:
            return True
        return len(shape) == len(self.shape) and all(
            want in (-1, got) for want, got in zip(self.shape, shape, strict=True)
        )

    def describe_shape(self) -> str:
        return describe_shape(self.shape)


def describe_shape(shape: Sequence[int] | None) -> str:
    if shape is None:
        return "<unknown>"
    return "[" + ",".join(str(d) for d in shape) + "]"


@dataclass(frozen=True)
class SignatureInfo:
    key: str
    method_name: str
    inputs: Mapping[str, TensorInfo]
    outputs: Mapping[str, TensorInfo]


def _tensor_info(alias: str, proto: meta_graph_pb2.TensorInfo) -> TensorInfo:
    shape = (
        None
        if proto.tensor_shape.unknown_rank
        else tuple(int(d.size) for d in proto.tensor_shape.dim)
    )
    return TensorInfo(alias=alias, feed_name=proto.name, dtype=proto.dtype, shape=shape)


def _signature_info(key: str, proto: meta_graph_pb2.SignatureDef) -> SignatureInfo:
    return SignatureInfo(
        key=key,
        method_name=proto.method_name,
        inputs={alias: _tensor_info(alias, info) for alias, info in proto.inputs.items()},
        outputs={alias: _tensor_info(alias, info) for alias, info in proto.outputs.items()},
    )


def saved_model_file(version_dir: Path) -> Path | None:
    """The SavedModel protobuf of a version folder, or None while it is not written yet."""
    for filename in SAVED_MODEL_FILENAMES:
        candidate = version_dir / filename
        if candidate.is_file():
            return candidate
    return None


def read_serving_meta_graph(version_dir: Path) -> meta_graph_pb2.MetaGraphDef:
    path = saved_model_file(version_dir)
    if path is None:
        raise FileNotFoundError(f"no saved_model.pb or saved_model.pbtxt in {version_dir}")
    saved_model = saved_model_pb2.SavedModel()
    if path.suffix == ".pbtxt":
        text_format.Parse(path.read_text(), saved_model)
    else:
        saved_model.ParseFromString(path.read_bytes())
    for meta_graph in saved_model.meta_graphs:
        if SERVE_TAG in meta_graph.meta_info_def.tags:
            return meta_graph
    raise ValueError(f"SavedModel in {version_dir} has no MetaGraph tagged {SERVE_TAG!r}")


class Servable:
    """A loaded (model name, version): the unit requests are routed to."""

    def __init__(self, name: str, version: int, path: Path) -> None:
        self.name = name
        self.version = version
        self.path = path
        meta_graph = read_serving_meta_graph(path)
        # Kept as protos: GetModelMetadata returns them verbatim, as TF Serving does.
        self.signature_defs: Mapping[str, meta_graph_pb2.SignatureDef] = dict(
            meta_graph.signature_def
        )
        self.signatures: Mapping[str, SignatureInfo] = {
            key: _signature_info(key, proto) for key, proto in self.signature_defs.items()
        }
        self._loaded = tf.saved_model.load(str(path), tags=[SERVE_TAG])
        self._functions = dict(self._loaded.signatures)

    def run(
        self, signature_key: str, inputs: Mapping[str, np.ndarray], output_aliases: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """Run one signature on numpy inputs; return the requested outputs as numpy arrays."""
        function = self._functions[signature_key]
        signature = self.signatures[signature_key]
        feeds = {
            alias: tf.constant(value, dtype=tf.dtypes.as_dtype(signature.inputs[alias].dtype))
            for alias, value in inputs.items()
        }
        results = function(**feeds)
        return {alias: results[alias].numpy() for alias in output_aliases}
