"""Building TF Serving requests in tests (the test process may use TensorFlow)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf
from tensorflow.core.example import example_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)


def model_spec(
    name: str,
    version: int | None = None,
    label: str | None = None,
    signature: str | None = None,
) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=name)
    if version is not None:
        spec.version.value = version
    if label is not None:
        spec.version_label = label
    if signature is not None:
        spec.signature_name = signature
    return spec


def predict_request(
    name: str,
    inputs: Mapping[str, np.ndarray | tf.Tensor | list],
    *,
    version: int | None = None,
    label: str | None = None,
    signature: str | None = None,
    output_filter: Sequence[str] = (),
) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest(
        model_spec=model_spec(name, version, label, signature), output_filter=list(output_filter)
    )
    for alias, value in inputs.items():
        request.inputs[alias].CopyFrom(tf.make_tensor_proto(value))
    return request


def half_plus_two_request(values: Sequence[float], **spec: object) -> predict_pb2.PredictRequest:
    return predict_request("half_plus_two", {"x": np.array(values, np.float32)}, **spec)


def outputs_of(response: predict_pb2.PredictResponse) -> dict[str, np.ndarray]:
    return {alias: tf.make_ndarray(proto) for alias, proto in response.outputs.items()}


def example(**features: float) -> example_pb2.Example:
    message = example_pb2.Example()
    for name, value in features.items():
        message.features.feature[name].float_list.value.append(value)
    return message


def classification_request(
    name: str, examples: Sequence[example_pb2.Example], signature: str = "classification"
) -> classification_pb2.ClassificationRequest:
    request = classification_pb2.ClassificationRequest(
        model_spec=model_spec(name, signature=signature)
    )
    request.input.example_list.examples.extend(examples)
    return request


def regression_request(
    name: str, examples: Sequence[example_pb2.Example], signature: str = "regression"
) -> regression_pb2.RegressionRequest:
    request = regression_pb2.RegressionRequest(model_spec=model_spec(name, signature=signature))
    request.input.example_list.examples.extend(examples)
    return request


def multi_inference_request(
    name: str, tasks: Sequence[tuple[str, str]], examples: Sequence[example_pb2.Example]
) -> inference_pb2.MultiInferenceRequest:
    """``tasks`` are (signature name, method name) pairs."""
    request = inference_pb2.MultiInferenceRequest()
    for signature, method in tasks:
        request.tasks.add(model_spec=model_spec(name, signature=signature), method_name=method)
    request.input.example_list.examples.extend(examples)
    return request


def status_request(
    name: str, version: int | None = None
) -> get_model_status_pb2.GetModelStatusRequest:
    return get_model_status_pb2.GetModelStatusRequest(model_spec=model_spec(name, version))


def metadata_request(
    name: str, version: int | None = None, label: str | None = None
) -> get_model_metadata_pb2.GetModelMetadataRequest:
    return get_model_metadata_pb2.GetModelMetadataRequest(
        model_spec=model_spec(name, version, label), metadata_field=["signature_def"]
    )
