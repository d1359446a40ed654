"""Is an unpacked folder a SavedModel that TF Serving can load and the model's clients can call?

Read with the protos alone (tfserving.saved_models): saved_model.pb must parse, hold a
MetaGraph tagged "serve" with at least one signature, and keep every signature of the
version clients use now (the newest in the repository) with the same method, the same
inputs and at least the same outputs, each of the same type.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from predictions.deployments.errors import InvalidArchive
from tfserving.protos import meta_graph_pb2
from tfserving.saved_models import NotASavedModel, parse_saved_model, serving_meta_graph
from tfserving.tensors import dtype_name

Signatures = Mapping[str, meta_graph_pb2.SignatureDef]
# Protocol buffers cannot be larger (TensorFlow refuses such a saved_model.pb too), and
# the file is parsed in memory: the bound keeps a huge one from being read at all.
MAX_SAVED_MODEL_BYTES = 2**31 - 1


def read_signatures(folder: Path) -> dict[str, meta_graph_pb2.SignatureDef]:
    """The serving signatures of the SavedModel in ``folder`` (not TensorFlow's own ``__*``)."""
    binary = folder / "saved_model.pb"
    path = binary if binary.is_file() else folder / "saved_model.pbtxt"
    if path.stat().st_size > MAX_SAVED_MODEL_BYTES:
        raise InvalidArchive(f"{path.name} is larger than 2 GiB, the protocol buffer limit")
    try:
        saved_model = parse_saved_model(path.read_bytes(), text=path.suffix == ".pbtxt")
    except NotASavedModel as error:
        raise InvalidArchive(f"{path.name} is not a SavedModel: {error}") from error
    meta_graph = serving_meta_graph(saved_model)
    if meta_graph is None:
        raise InvalidArchive(f"{path.name} has no MetaGraph tagged 'serve', which TF Serving loads")
    signatures = {
        name: definition
        for name, definition in meta_graph.signature_def.items()
        if not name.startswith("__")
    }
    if not signatures:
        raise InvalidArchive(f"{path.name} has no serving signatures")
    return signatures


def check_compatible(new: Signatures, current: Signatures, current_version: int) -> None:
    """InvalidArchive naming the first signature, input or output clients would miss."""
    for name, used in sorted(current.items()):
        where = f"Signature {name!r} of version {current_version}, which clients use now"
        offered = new.get(name)
        if offered is None:
            raise InvalidArchive(f"{where}, is missing from the new version")
        if offered.method_name != used.method_name:
            raise InvalidArchive(
                f"{where}, is {used.method_name}; the new version's is {offered.method_name}"
            )
        if set(offered.inputs) != set(used.inputs):
            raise InvalidArchive(
                f"{where}, takes inputs {sorted(used.inputs)}; the new version takes "
                f"{sorted(offered.inputs)}"
            )
        _same_types(where, "input", used.inputs, offered.inputs)
        missing = sorted(set(used.outputs) - set(offered.outputs))
        if missing:
            raise InvalidArchive(f"{where}, has outputs the new version lacks: {missing}")
        _same_types(where, "output", used.outputs, offered.outputs)


def _same_types(
    where: str,
    kind: str,
    used: Mapping[str, meta_graph_pb2.TensorInfo],
    offered: Mapping[str, meta_graph_pb2.TensorInfo],
) -> None:
    for alias in sorted(used):
        before, after = used[alias].dtype, offered[alias].dtype
        if before != after:
            raise InvalidArchive(
                f"{where}, has {kind} {alias!r} of type {dtype_name(before)}; the new "
                f"version's is {dtype_name(after)}"
            )
