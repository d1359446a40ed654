"""Predict, Classify, Regress and MultiInference: validation in TF Serving's order, then a run.

The checks happen in the order TF Serving makes them (signature lookup, method,
input count, input names, tensor parsing, output filter, then dtype and shape),
so a request with several problems gets the same first error from both servers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import grpc
import numpy as np
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    input_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)

from modelserver import errors
from modelserver.batching import BatchScheduler, batch_size_of
from modelserver.manager import ServableManager, servable_id
from modelserver.servable import Servable, SignatureInfo, describe_shape, dtype_string
from modelserver.tensors import array_from_proto, fill_proto

DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
CLASSIFY_INPUTS = "inputs"
CLASSIFY_CLASSES = "classes"
CLASSIFY_SCORES = "scores"
REGRESS_INPUTS = "inputs"
REGRESS_OUTPUTS = "outputs"


def _response_spec(
    target: model_pb2.ModelSpec, name: str, signature_name: str | None, version: int
) -> None:
    target.name = name
    if signature_name is not None:
        target.signature_name = signature_name or DEFAULT_SIGNATURE
    target.version.value = version


class Inference:
    def __init__(self, manager: ServableManager, batcher: BatchScheduler | None = None) -> None:
        self._manager = manager
        self._batcher = batcher
        if batcher is not None:
            manager.add_unload_listener(self._forget_batches_of)

    def _forget_batches_of(self, servable: Servable) -> None:
        assert self._batcher is not None
        self._batcher.retire(lambda key: key[0] is servable)

    # ---- Predict -----------------------------------------------------------------------

    def predict(self, request: predict_pb2.PredictRequest) -> predict_pb2.PredictResponse:
        servable = self._manager.resolve(request.model_spec)
        signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        signature = servable.signatures.get(signature_name)
        if signature is None:
            raise errors.predict_signature_not_found(signature_name)
        if signature.method_name not in (PREDICT_METHOD, CLASSIFY_METHOD, REGRESS_METHOD):
            raise errors.wrong_prediction_method(signature.method_name)
        inputs = _predict_inputs(signature, request.inputs)
        output_aliases = _output_aliases(signature, request.output_filter)
        _check_dtypes_and_shapes(signature, request.inputs, inputs)
        outputs = self._run(servable, signature, inputs)

        response = predict_pb2.PredictResponse()
        _response_spec(response.model_spec, servable.name, signature_name, servable.version)
        for alias in output_aliases:
            fill_proto(response.outputs[alias], outputs[alias], signature.outputs[alias].dtype)
        return response

    def _run(
        self, servable: Servable, signature: SignatureInfo, inputs: Mapping[str, np.ndarray]
    ) -> Mapping[str, np.ndarray]:
        all_outputs = list(signature.outputs)

        def run(batch_inputs: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
            return servable.run(signature.key, batch_inputs, all_outputs)

        if self._batcher is None:
            return run(inputs)
        batch_size_of(inputs)  # TF Serving's batching rejects scalars and ragged 0th dims
        label = f"{servable_id(servable.name, servable.version)} {signature.key}"
        return self._batcher.run((servable, signature.key), inputs, run, label)

    # ---- Classify / Regress --------------------------------------------------------------

    def classify(
        self, request: classification_pb2.ClassificationRequest
    ) -> classification_pb2.ClassificationResponse:
        response = classification_pb2.ClassificationResponse()
        servable, signature, examples = self._examples_call(
            request, response, CLASSIFY_METHOD, "classification", _check_classification_signature
        )
        outputs = servable.run(signature.key, {CLASSIFY_INPUTS: examples}, list(signature.outputs))
        _fill_classification(outputs, len(examples), response.result)
        return response

    def regress(
        self, request: regression_pb2.RegressionRequest
    ) -> regression_pb2.RegressionResponse:
        response = regression_pb2.RegressionResponse()
        servable, signature, examples = self._examples_call(
            request, response, REGRESS_METHOD, "regression", _check_regression_signature
        )
        outputs = servable.run(signature.key, {REGRESS_INPUTS: examples}, [REGRESS_OUTPUTS])
        _fill_regression(outputs[REGRESS_OUTPUTS], len(examples), response.result)
        return response

    def _examples_call(
        self,
        request: classification_pb2.ClassificationRequest | regression_pb2.RegressionRequest,
        response: classification_pb2.ClassificationResponse | regression_pb2.RegressionResponse,
        method_name: str,
        kind: str,
        check_signature: Callable[[SignatureInfo], None],
    ) -> tuple[Servable, SignatureInfo, np.ndarray]:
        """Classify and Regress alike: resolve the servable, check its signature, fill the
        response's model spec, and decode the request's tf.Examples."""
        servable = self._manager.resolve(request.model_spec)
        signature = _method_signature(
            servable, request.model_spec.signature_name, method_name, kind
        )
        check_signature(signature)
        _response_spec(
            response.model_spec,
            servable.name,
            request.model_spec.signature_name,
            servable.version,
        )
        return servable, signature, _serialized_examples(request.input)

    def multi_inference(
        self, request: inference_pb2.MultiInferenceRequest
    ) -> inference_pb2.MultiInferenceResponse:
        # TF Serving resolves the first task's model before it looks at the tasks.
        first_spec = request.tasks[0].model_spec if request.tasks else model_pb2.ModelSpec()
        servable = self._manager.resolve(first_spec)
        model_name = ""
        seen: set[str] = set()
        plan = []
        for task in request.tasks:
            if not task.model_spec.name:
                raise _invalid("Found ModelSpec with an empty model name.")
            if model_name and task.model_spec.name != model_name:
                raise _invalid(
                    "All ModelSpecs in a MultiInferenceRequest must access the same model name."
                )
            model_name = task.model_spec.name
            signature_name = task.model_spec.signature_name or DEFAULT_SIGNATURE
            if signature_name in seen:
                raise _invalid(f"Duplicate evaluation of signature: {signature_name}")
            seen.add(signature_name)
            signature = servable.signatures.get(signature_name)
            if signature is None:
                raise _invalid(f"Requested signature not found in model graph: {signature_name}")
            if task.method_name == CLASSIFY_METHOD:
                _check_classification_signature(signature)
            elif task.method_name == REGRESS_METHOD:
                _check_regression_signature(signature)
            else:
                raise errors.ServingError(
                    grpc.StatusCode.UNIMPLEMENTED,
                    f"Unsupported signature method_name: {task.method_name}",
                )
            plan.append((task, signature))

        examples = _serialized_examples(request.input)
        response = inference_pb2.MultiInferenceResponse()
        for task, signature in plan:
            outputs = servable.run(
                signature.key, {CLASSIFY_INPUTS: examples}, list(signature.outputs)
            )
            result = response.results.add()
            if task.method_name == CLASSIFY_METHOD:
                _fill_classification(outputs, len(examples), result.classification_result)
            else:
                _fill_regression(outputs[REGRESS_OUTPUTS], len(examples), result.regression_result)
            _response_spec(
                result.model_spec, servable.name, task.model_spec.signature_name, servable.version
            )
        return response


# ---- Predict validation ------------------------------------------------------------------


def _predict_inputs(signature: SignatureInfo, request_inputs: Mapping) -> dict[str, np.ndarray]:
    if len(request_inputs) != len(signature.inputs):
        # TF Serving allows fewer inputs only for signatures with defaults, which
        # SavedModels exported from TF2 do not have.
        raise errors.input_size_mismatch(request_inputs.keys(), signature.inputs.keys())
    for alias in sorted(signature.inputs):
        if alias not in request_inputs:
            raise errors.input_not_in_request(
                alias, signature.inputs[alias].feed_name, request_inputs.keys()
            )
    arrays = {}
    for alias in sorted(signature.inputs):
        try:
            arrays[alias] = array_from_proto(request_inputs[alias])
        except ValueError as error:
            raise errors.tensor_parsing_error(alias) from error
    return arrays


def _output_aliases(signature: SignatureInfo, output_filter: Sequence[str]) -> list[str]:
    if not output_filter:
        return sorted(signature.outputs)
    aliases: list[str] = []
    for alias in output_filter:
        if alias not in signature.outputs:
            raise errors.unknown_output_alias(alias, signature.outputs)
        if alias in aliases:
            raise errors.duplicate_output_alias(alias)
        aliases.append(alias)
    return aliases


def _check_dtypes_and_shapes(
    signature: SignatureInfo, request_inputs: Mapping, arrays: Mapping[str, np.ndarray]
) -> None:
    for index, alias in enumerate(sorted(signature.inputs)):
        expected = signature.inputs[alias]
        provided = request_inputs[alias].dtype
        if provided != expected.dtype:
            raise errors.wrong_input_dtype(
                index,
                alias,
                expected.feed_name,
                dtype_string(expected.dtype),
                dtype_string(provided),
            )
        shape = arrays[alias].shape
        if not expected.accepts_shape(shape):
            raise errors.wrong_input_shape(
                alias, expected.feed_name, describe_shape(shape), expected.describe_shape()
            )


# ---- Classify / Regress helpers -------------------------------------------------------------


def _method_signature(
    servable: Servable, signature_name: str, method: str, kind: str
) -> SignatureInfo:
    name = signature_name or DEFAULT_SIGNATURE
    signature = servable.signatures.get(name)
    if signature is None:
        raise errors.signature_not_found_by_name(name)
    if signature.method_name != method:
        raise errors.wrong_method(kind, method, signature.method_name)
    return signature


def _invalid(message: str) -> errors.ServingError:
    return errors.ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def _check_classification_signature(signature: SignatureInfo) -> None:
    if signature.method_name != CLASSIFY_METHOD:
        raise errors.wrong_method("classification", CLASSIFY_METHOD, signature.method_name)
    if len(signature.inputs) != 1:
        raise _invalid("Expected one input Tensor.")
    if len(signature.outputs) not in (1, 2):
        raise _invalid(f"Expected one or two output Tensors, found {len(signature.outputs)}")
    if CLASSIFY_INPUTS not in signature.inputs:
        raise _invalid(f"No classification inputs found in SignatureDef: {signature.key}")
    if CLASSIFY_CLASSES not in signature.outputs and CLASSIFY_SCORES not in signature.outputs:
        raise _invalid(
            'Expected classification signature outputs to contain at least one of "classes" or '
            f'"scores". Signature was: {signature.key}'
        )


def _check_regression_signature(signature: SignatureInfo) -> None:
    if signature.method_name != REGRESS_METHOD:
        raise errors.wrong_method("regression", REGRESS_METHOD, signature.method_name)
    if len(signature.inputs) != 1:
        raise _invalid("Expected one input Tensor.")
    if len(signature.outputs) != 1:
        raise _invalid("Expected one output Tensor.")
    if REGRESS_INPUTS not in signature.inputs:
        raise _invalid(f"No regression inputs found in SignatureDef: {signature.key}")
    if REGRESS_OUTPUTS not in signature.outputs:
        raise _invalid(f"No regression outputs found in SignatureDef: {signature.key}")


def _serialized_examples(model_input: input_pb2.Input) -> np.ndarray:
    """The request's tf.Examples as a DT_STRING batch; context features are merged into each
    example by concatenating serialized protos (protobuf's merge semantics), as TF Serving does."""
    kind = model_input.WhichOneof("kind")
    if kind == "example_list":
        serialized = [e.SerializeToString() for e in model_input.example_list.examples]
    elif kind == "example_list_with_context":
        with_context = model_input.example_list_with_context
        context = with_context.context.SerializeToString()
        serialized = [context + e.SerializeToString() for e in with_context.examples]
    else:
        serialized = []
    if not serialized:
        raise errors.empty_input()
    return np.array(serialized, dtype=object)


def _fill_classification(
    outputs: Mapping[str, np.ndarray],
    num_examples: int,
    result: classification_pb2.ClassificationResult,
) -> None:
    classes = outputs.get(CLASSIFY_CLASSES)
    scores = outputs.get(CLASSIFY_SCORES)
    for tensor, kind in ((classes, "classes"), (scores, "scores")):
        if tensor is None:
            continue
        if tensor.ndim != 2:
            raise _invalid(
                f"Expected Tensor shape: [batch_size num_classes] but got {list(tensor.shape)}"
            )
        if tensor.shape[0] != num_examples:
            raise _invalid(
                f"Expected {kind} output batch size of {num_examples}. Got: {tensor.shape[0]}"
            )
    if classes is not None and scores is not None and classes.shape[1] != scores.shape[1]:
        raise _invalid(
            "Tensors class and score should match in dim_size(1). Got "
            f"{classes.shape[1]} vs. {scores.shape[1]}"
        )
    num_classes = (classes if classes is not None else scores).shape[1]
    for i in range(num_examples):
        classifications = result.classifications.add()
        for j in range(num_classes):
            entry = classifications.classes.add()
            if classes is not None:
                entry.label = _text(classes[i, j])
            if scores is not None:
                entry.score = float(scores[i, j])


def _fill_regression(
    output: np.ndarray, num_examples: int, result: regression_pb2.RegressionResult
) -> None:
    if not (output.ndim == 1 or (output.ndim == 2 and output.shape[1] == 1)):
        raise _invalid(
            "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got "
            f"{list(output.shape)}"
        )
    if output.shape[0] != num_examples:
        raise _invalid(
            f"Input batch size did not match output batch size: {num_examples} vs. "
            f"{output.shape[0]}"
        )
    for value in output.reshape(-1):
        result.regressions.add().value = float(value)


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
