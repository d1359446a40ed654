"""Small constructors for signatures and responses used across the tfserving tests."""

from __future__ import annotations

from tfserving.protos import (
    get_model_metadata_pb2,
    meta_graph_pb2,
    predict_pb2,
    types_pb2,
)
from tfserving.signatures import (
    DEFAULT_SIGNATURE,
    ModelSignatures,
    Signature,
    TensorSpec,
)
from tfserving.tensors import shape_proto, tensor_proto_from_array

FLOAT = types_pb2.DT_FLOAT
DOUBLE = types_pb2.DT_DOUBLE
HALF = types_pb2.DT_HALF
INT8 = types_pb2.DT_INT8
INT16 = types_pb2.DT_INT16
INT32 = types_pb2.DT_INT32
INT64 = types_pb2.DT_INT64
UINT8 = types_pb2.DT_UINT8
UINT16 = types_pb2.DT_UINT16
UINT32 = types_pb2.DT_UINT32
UINT64 = types_pb2.DT_UINT64
BOOL = types_pb2.DT_BOOL
STRING = types_pb2.DT_STRING


def signatures(
    inputs: dict[str, tuple[int, tuple[int, ...] | None]],
    *,
    name: str = DEFAULT_SIGNATURE,
    extra: dict[str, dict[str, tuple[int, tuple[int, ...] | None]]] | None = None,
) -> ModelSignatures:
    """ModelSignatures of model "m" version 1 with one signature of these inputs."""
    all_signatures = {name: inputs, **(extra or {})}
    return ModelSignatures(
        model="m",
        version=1,
        signatures={
            sig_name: Signature(
                name=sig_name,
                method_name="tensorflow/serving/predict",
                inputs={n: TensorSpec(n, dtype, shape) for n, (dtype, shape) in sig_inputs.items()},
                outputs={},
            )
            for sig_name, sig_inputs in all_signatures.items()
        },
    )


def predict_response(**outputs) -> predict_pb2.PredictResponse:
    """A PredictResponse whose outputs are the given numpy arrays (or TensorProtos)."""
    response = predict_pb2.PredictResponse()
    for name, value in outputs.items():
        proto = value if hasattr(value, "tensor_shape") else tensor_proto_from_array(value)
        response.outputs[name].CopyFrom(proto)
    return response


def tensor_info(dtype: int, shape: tuple[int, ...] | None, name: str) -> meta_graph_pb2.TensorInfo:
    info = meta_graph_pb2.TensorInfo(name=name, dtype=dtype)
    if shape is None:
        info.tensor_shape.unknown_rank = True
    else:
        info.tensor_shape.CopyFrom(shape_proto(shape))
    return info


def half_plus_two_metadata(version: int = 2) -> get_model_metadata_pb2.GetModelMetadataResponse:
    """Metadata as TF Serving returns it for half_plus_two (x DT_FLOAT [-1] -> y)."""
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    definition = signature_map.signature_def["serving_default"]
    definition.method_name = "tensorflow/serving/predict"
    definition.inputs["x"].CopyFrom(tensor_info(FLOAT, (-1,), "serving_default_x:0"))
    definition.outputs["y"].CopyFrom(tensor_info(FLOAT, (-1,), "StatefulPartitionedCall:0"))
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = "half_plus_two"
    response.model_spec.version.value = version
    response.metadata["signature_def"].Pack(signature_map)
    return response
