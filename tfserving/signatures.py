"""Model signatures (from GetModelMetadata) and a per-process cache of them.

Requests are validated against the signature before any Predict call, so the
gateway fetches each model's SignatureDefMap once and keeps it for a short time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

import grpc

from tfserving.errors import InvalidInput, UpstreamError
from tfserving.models import ModelRef
from tfserving.protos import get_model_metadata_pb2, meta_graph_pb2
from tfserving.tensors import dtype_name

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


def shape_text(shape: tuple[int, ...] | None) -> str:
    """A shape as TensorFlow's shape DebugString prints it in TF Serving's messages:
    ``[2,3]``, ``[]`` for a scalar, ``<unknown>`` for an unknown rank. Shared with the
    embedded model server, so both print shapes alike."""
    if shape is None:
        return "<unknown>"
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


class Fetch(Protocol):
    """``PredictionClient.get_model_metadata``: given what is left of the deadline."""

    def __call__(
        self, ref: ModelRef, *, timeout_seconds: float
    ) -> get_model_metadata_pb2.GetModelMetadataResponse: ...


def _deadline_exceeded() -> UpstreamError:
    return UpstreamError.from_status(
        grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded waiting for the model's signatures"
    )


def _no_admission(model: str) -> AbstractContextManager[None]:
    return nullcontext()


class SignatureCache:
    """ModelSignatures per ModelRef, kept for ``ttl_seconds`` (0 disables caching).

    Thread-safe; one instance per process. ``fetch`` is usually
    ``PredictionClient.get_model_metadata`` and may raise (e.g. UpstreamError for an
    unknown model): errors are not cached.

    A miss, waiting for another thread's fetch of the same model included, takes at
    most ``timeout_seconds`` (the model server deadline) and then fails as a call past
    its deadline does: a waiter must not wait out a hung fetch and then make its own.
    The wait happens inside ``admission(model name)`` (the web tier's bound on model
    server calls), so threads queued on a hung model are counted against it too.
    """

    def __init__(
        self,
        fetch: Fetch,
        ttl_seconds: float,
        *,
        timeout_seconds: float = 10.0,
        admission: Callable[[str], AbstractContextManager[None]] = _no_admission,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._timeout = timeout_seconds
        self._admission = admission
        self._clock = clock
        self._slots: dict[ModelRef, _Slot] = {}
        self._slots_lock = threading.Lock()

    def get(self, ref: ModelRef) -> ModelSignatures:
        slot = self._slot(ref)
        entry = slot.entry
        if entry is not None and entry.expires_at > self._clock():
            return entry.value
        deadline = time.monotonic() + self._timeout
        with self._admission(ref.name):
            if not slot.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise _deadline_exceeded()
            try:
                entry = slot.entry
                if entry is not None and entry.expires_at > self._clock():
                    return entry.value  # another thread fetched it while we waited
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _deadline_exceeded()
                value = signatures_from_metadata(self._fetch(ref, timeout_seconds=remaining))
                slot.entry = _Entry(value, self._clock() + self._ttl)
                return value
            finally:
                slot.lock.release()

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
