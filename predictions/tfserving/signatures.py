"""Model signatures (from GetModelMetadata) and a per-process cache of them.

Requests are validated against the signature before any Predict call, so the
gateway fetches each model's SignatureDefMap once and keeps it for a short time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from predictions.tfserving.errors import InvalidInput
from predictions.tfserving.models import ModelRef
from predictions.tfserving.protos import get_model_metadata_pb2, meta_graph_pb2
from predictions.tfserving.tensors import dtype_name

DEFAULT_SIGNATURE = "serving_default"
SIGNATURE_DEF_FIELD = "signature_def"


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output: its DataType and shape (-1 = any size; None = any rank)."""

    name: str
    dtype: int
    shape: tuple[int, ...] | None

    def describe(self) -> str:
        """``float tensor of shape [-1,3]``: what the signature expects, for messages."""
        return f"{dtype_name(self.dtype)} tensor of shape {shape_text(self.shape)}"

    def accepts_shape(self, shape: tuple[int, ...]) -> bool:
        if self.shape is None:
            return True
        return len(shape) == len(self.shape) and all(
            want < 0 or want == got for want, got in zip(self.shape, shape, strict=True)
        )


def shape_text(shape: tuple[int, ...] | None) -> str:
    """A shape the way TF Serving prints one: ``[-1,28,28,1]``, ``[]``, ``[?]`` (unknown rank)."""
    if shape is None:
        return "[?]"
    return "[" + ",".join(str(size) for size in shape) + "]"


@dataclass(frozen=True)
class Signature:
    name: str
    method_name: str
    inputs: Mapping[str, TensorSpec]
    outputs: Mapping[str, TensorSpec]


@dataclass(frozen=True)
class ModelSignatures:
    """Every signature of one model version."""

    model: str
    version: int
    signatures: Mapping[str, Signature]

    def signature(self, name: str = "") -> Signature:
        """The named signature (empty name: serving_default), or InvalidInput as TF Serving says."""
        name = name or DEFAULT_SIGNATURE
        found = self.signatures.get(name)
        if found is None:
            raise InvalidInput(f'Serving signature name: "{name}" not found in signature def')
        return found


def _tensor_specs(infos: Mapping[str, meta_graph_pb2.TensorInfo]) -> Mapping[str, TensorSpec]:
    specs = {}
    for alias in sorted(infos):
        info = infos[alias]
        shape = info.tensor_shape
        dims = None if shape.unknown_rank else tuple(dim.size for dim in shape.dim)
        specs[alias] = TensorSpec(name=alias, dtype=info.dtype, shape=dims)
    return MappingProxyType(specs)


def signatures_from_metadata(
    response: get_model_metadata_pb2.GetModelMetadataResponse,
) -> ModelSignatures:
    """The signatures in a GetModelMetadataResponse (metadata_field signature_def)."""
    if SIGNATURE_DEF_FIELD not in response.metadata:
        raise ValueError("GetModelMetadataResponse has no 'signature_def' metadata")
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    if not response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_map):
        raise ValueError("'signature_def' metadata is not a SignatureDefMap")
    signatures = {
        name: Signature(
            name=name,
            method_name=definition.method_name,
            inputs=_tensor_specs(definition.inputs),
            outputs=_tensor_specs(definition.outputs),
        )
        for name, definition in sorted(signature_map.signature_def.items())
    }
    return ModelSignatures(
        model=response.model_spec.name,
        version=response.model_spec.version.value,
        signatures=MappingProxyType(signatures),
    )


@dataclass(frozen=True)
class _Entry:
    value: ModelSignatures
    expires_at: float


@dataclass
class _Slot:
    """Serialises fetches for one ModelRef so concurrent misses cost one RPC."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    entry: _Entry | None = None


class SignatureCache:
    """ModelSignatures per ModelRef, kept for ``ttl_seconds`` (0 disables caching).

    Thread-safe; one instance per process. ``fetch`` is usually
    ``PredictionClient.get_model_metadata`` and may raise (e.g. UpstreamError for an
    unknown model): errors are not cached.
    """

    def __init__(
        self,
        fetch: Callable[[ModelRef], get_model_metadata_pb2.GetModelMetadataResponse],
        ttl_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._clock = clock
        self._slots: dict[ModelRef, _Slot] = {}
        self._slots_lock = threading.Lock()

    def get(self, ref: ModelRef) -> ModelSignatures:
        slot = self._slot(ref)
        entry = slot.entry
        if entry is not None and entry.expires_at > self._clock():
            return entry.value
        with slot.lock:
            entry = slot.entry
            if entry is not None and entry.expires_at > self._clock():
                return entry.value  # another thread fetched it while we waited
            value = signatures_from_metadata(self._fetch(ref))
            slot.entry = _Entry(value, self._clock() + self._ttl)
            return value

    def invalidate(self, name: str) -> None:
        """Forget every cached entry of model ``name`` (all versions and labels)."""
        with self._slots_lock:
            for ref in [ref for ref in self._slots if ref.name == name]:
                del self._slots[ref]

    def note_served_version(self, ref: ModelRef, version: int) -> None:
        """Drop ``ref``'s entry if the model server just served another version for it.

        A new version becoming the latest (or a label moving) may change the
        signature; the Predict response's model_spec says which version answered.
        """
        with self._slots_lock:
            slot = self._slots.get(ref)
            if slot is not None and slot.entry is not None and slot.entry.value.version != version:
                del self._slots[ref]

    def _slot(self, ref: ModelRef) -> _Slot:
        slot = self._slots.get(ref)
        if slot is None:
            with self._slots_lock:
                slot = self._slots.setdefault(ref, _Slot())
        return slot
