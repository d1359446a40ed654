"""Calling the model server directly over gRPC, to compare with answers through the gateway."""

from __future__ import annotations

import grpc
import numpy as np

from tfserving.protos import (
    classification_pb2,
    input_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)
from tfserving.tensors import array_from_tensor_proto, tensor_proto_from_array


def direct_predict(
    address: str, model: str, inputs: dict[str, np.ndarray], signature: str = ""
) -> dict[str, np.ndarray]:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    for name, array in inputs.items():
        request.inputs[name].CopyFrom(tensor_proto_from_array(array))
    with grpc.insecure_channel(address) as channel:
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
            request, timeout=10
        )
    return {name: array_from_tensor_proto(proto) for name, proto in response.outputs.items()}


def direct_classify(
    address: str, model: str, examples: input_pb2.Input, signature: str
) -> classification_pb2.ClassificationResponse:
    request = classification_pb2.ClassificationRequest(input=examples)
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    with grpc.insecure_channel(address) as channel:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Classify(
            request, timeout=10
        )


def direct_regress(
    address: str, model: str, examples: input_pb2.Input, signature: str
) -> regression_pb2.RegressionResponse:
    request = regression_pb2.RegressionRequest(input=examples)
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    with grpc.insecure_channel(address) as channel:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Regress(
            request, timeout=10
        )
