"""Predict, Classify, Regress and MultiInference, step by step as TF Serving runs them.

Each call follows TF Serving's code check by check (predict_util.cc, classifier.cc,
regressor.cc, multi_inference.cc, util.cc, and TensorFlow's saved_model/util.cc), in its
order, so a request with several problems gets the same first error from both servers;
then it runs the signature's tensors by name in the version's session. What TF Serving
leaves to the session (dtypes, shapes, the graph itself) is left to the session here too.

``--enable_signature_method_name_check`` (off by default, as in TF Serving) makes the
signature's method name matter: off, Classify and Regress run any signature shaped like a
classification or regression one (TF2 exports mark every signature as predict), and
Predict runs any signature at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import grpc
import numpy as np
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    input_pb2,
    model_pb2,
    predict_pb2,
    regression_pb2,
)

from modelserver import errors
from modelserver.batching import BatchScheduler
from modelserver.manager import ServableManager, servable_id
from modelserver.servable import Servable
from modelserver.tensors import array_from_proto, datatype_name, fill_proto
from tfserving.signatures import shape_text

DEFAULT_SIGNATURE = "serving_default"
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
CLASSIFY_INPUTS = "inputs"
CLASSIFY_CLASSES = "classes"
CLASSIFY_SCORES = "scores"
REGRESS_INPUTS = "inputs"
REGRESS_OUTPUTS = "outputs"

SignatureDef = meta_graph_pb2.SignatureDef
Outputs = Mapping[str, np.ndarray]
# One session run: (servable, {feed tensor: value}, [fetch tensor]) -> {fetch tensor: value}.
SessionRun = Callable[[Servable, Mapping[str, np.ndarray], Sequence[str]], Outputs]


def direct_run(servable: Servable, feeds: Mapping[str, np.ndarray], fetches: Sequence[str]):
    return servable.run(feeds, fetches)


@dataclass(frozen=True)
class RunOptions:
    """How requests are executed: the session run (direct or batched) and whether
    signature method names are checked (--enable_signature_method_name_check)."""

    run: SessionRun = direct_run
    method_name_check: bool = False


def _invalid(message: str) -> errors.ServingError:
    return errors.ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def _model_spec(
    target: model_pb2.ModelSpec, name: str, signature_name: str | None, version: int | None
) -> None:
    """TF Serving's MakeModelSpec: an empty signature name is reported as serving_default."""
    target.name = name
    if signature_name is not None:
        target.signature_name = signature_name or DEFAULT_SIGNATURE
    if version is not None:
        target.version.value = version


def _debug_string(signature: SignatureDef) -> str:
    """SignatureDef::DebugString, which TF Serving puts in some messages."""
    return str(signature)


# ---- Predict ------------------------------------------------------------------------------


def run_predict(
    servable: Servable,
    request: predict_pb2.PredictRequest,
    options: RunOptions,
    version: int | None,
) -> predict_pb2.PredictResponse:
    signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
    signature = servable.signature_defs.get(signature_name)
    if signature is None:
        raise errors.predict_signature_not_found(signature_name)
    response = predict_pb2.PredictResponse()
    _model_spec(response.model_spec, request.model_spec.name, signature_name, version)
    if options.method_name_check and signature.method_name not in (
        PREDICT_METHOD,
        CLASSIFY_METHOD,
        REGRESS_METHOD,
    ):
        raise errors.wrong_prediction_method(signature.method_name)
    feeds = _input_values(signature, request.inputs)
    aliases, tensor_names = _output_tensors(signature, request.output_filter)
    outputs = options.run(servable, feeds, list(dict.fromkeys(tensor_names)))
    for alias, tensor_name in zip(aliases, tensor_names, strict=True):
        fill_proto(response.outputs[alias], outputs[tensor_name])
    return response


def _input_values(signature: SignatureDef, request_inputs: Mapping) -> dict[str, np.ndarray]:
    """TF Serving's VerifyRequestInputsSize, then TensorFlow's GetInputValues: each input
    from the request or the signature's defaults, parsed, keyed by its graph tensor."""
    defaults = signature.defaults
    sent, expected = len(request_inputs), len(signature.inputs)
    if sent > expected or (sent < expected and not defaults):
        raise errors.input_size_mismatch(request_inputs.keys(), signature.inputs.keys())
    feeds: dict[str, np.ndarray] = {}
    used: set[str] = set()
    # TF Serving walks a protobuf map (no defined order); sorted aliases make the first
    # error deterministic.
    for alias in sorted(signature.inputs):
        feed_name = signature.inputs[alias].name
        if alias in request_inputs:
            proto = request_inputs[alias]
            used.add(alias)
        elif alias in defaults:
            proto = defaults[alias]
        else:
            raise errors.input_not_in_request(
                alias, feed_name, request_inputs.keys(), defaults.keys()
            )
        try:
            feeds[feed_name] = array_from_proto(proto)
        except ValueError as error:
            raise errors.tensor_parsing_error(alias) from error
    if request_inputs and len(used) != len(request_inputs):
        raise errors.invalid_input_name(used, request_inputs.keys())
    return feeds


def _output_tensors(
    signature: SignatureDef, output_filter: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The output aliases to answer with and their graph tensors: the filter's, in its
    order, or every output of the signature."""
    if not output_filter:
        aliases = sorted(signature.outputs)
        return aliases, [signature.outputs[alias].name for alias in aliases]
    aliases: list[str] = []
    for alias in output_filter:
        if alias not in signature.outputs:
            raise errors.unknown_output_alias(alias, signature.outputs)
        if alias in aliases:
            raise errors.duplicate_output_alias(alias)
        aliases.append(alias)
    return aliases, [signature.outputs[alias].name for alias in aliases]


# ---- Classify -----------------------------------------------------------------------------


def _classification_tensors(
    signature: SignatureDef, method_name_check: bool
) -> tuple[str, list[str]]:
    """TF Serving's PreProcessClassification: the input tensor and the classes and/or
    scores tensors to fetch."""
    if method_name_check and signature.method_name != CLASSIFY_METHOD:
        raise errors.wrong_method("classification", CLASSIFY_METHOD, signature.method_name)
    if len(signature.inputs) != 1:
        raise _invalid("Expected one input Tensor.")
    if len(signature.outputs) not in (1, 2):
        raise _invalid(f"Expected one or two output Tensors, found {len(signature.outputs)}")
    if CLASSIFY_INPUTS not in signature.inputs:
        raise _invalid(
            f"No classification inputs found in SignatureDef: {_debug_string(signature)}"
        )
    outputs = [
        signature.outputs[k].name
        for k in (CLASSIFY_CLASSES, CLASSIFY_SCORES)
        if k in signature.outputs
    ]
    if not outputs:
        raise _invalid(
            'Expected classification signature outputs to contain at least one of "classes" or '
            f'"scores". Signature was: {_debug_string(signature)}'
        )
    return signature.inputs[CLASSIFY_INPUTS].name, outputs


def _regression_tensors(signature: SignatureDef, method_name_check: bool) -> tuple[str, list[str]]:
    """TF Serving's PreProcessRegression."""
    if method_name_check and signature.method_name != REGRESS_METHOD:
        raise errors.wrong_method("regression", REGRESS_METHOD, signature.method_name)
    if len(signature.inputs) != 1:
        raise _invalid("Expected one input Tensor.")
    if len(signature.outputs) != 1:
        raise _invalid("Expected one output Tensor.")
    if REGRESS_INPUTS not in signature.inputs:
        raise _invalid(f"No regression inputs found in SignatureDef: {_debug_string(signature)}")
    if REGRESS_OUTPUTS not in signature.outputs:
        raise _invalid(f"No regression outputs found in SignatureDef: {_debug_string(signature)}")
    return signature.inputs[REGRESS_INPUTS].name, [signature.outputs[REGRESS_OUTPUTS].name]


PreProcess = Callable[[SignatureDef, bool], tuple[str, list[str]]]


def _examples_signature(
    servable: Servable,
    signature_name: str,
    options: RunOptions,
    method_name: str,
    kind: str,
    pre_process: PreProcess,
) -> SignatureDef:
    """TF Serving's GetClassificationSignatureDef / GetRegressionSignatureDef: with the
    method name check on only the method is checked here, with it off the signature's
    shape is."""
    name = signature_name or DEFAULT_SIGNATURE
    signature = servable.signature_defs.get(name)
    if signature is None:
        raise errors.signature_not_found_by_name(name)
    if options.method_name_check:
        if signature.method_name != method_name:
            raise errors.wrong_method(kind, method_name, signature.method_name)
    else:
        pre_process(signature, False)
    return signature


def run_classify(
    servable: Servable,
    request: classification_pb2.ClassificationRequest,
    options: RunOptions,
    version: int | None,
) -> classification_pb2.ClassificationResponse:
    signature = _examples_signature(
        servable,
        request.model_spec.signature_name,
        options,
        CLASSIFY_METHOD,
        "classification",
        _classification_tensors,
    )
    response = classification_pb2.ClassificationResponse()
    _model_spec(
        response.model_spec, request.model_spec.name, request.model_spec.signature_name, version
    )
    input_name, output_names = _classification_tensors(signature, options.method_name_check)
    examples = _serialized_examples(request.input)
    outputs = options.run(servable, {input_name: examples}, output_names)
    _fill_classification(signature, len(examples), outputs, response.result)
    return response


def _fill_classification(
    signature: SignatureDef,
    num_examples: int,
    outputs: Outputs,
    result: classification_pb2.ClassificationResult,
) -> None:
    """TF Serving's PostProcessClassificationResult."""
    classes_info = signature.outputs.get(CLASSIFY_CLASSES)
    scores_info = signature.outputs.get(CLASSIFY_SCORES)
    classes = outputs.get(classes_info.name) if classes_info is not None else None
    # One tensor named as both outputs counts as classes only, as in TF Serving.
    scores = (
        outputs.get(scores_info.name)
        if scores_info is not None
        and (classes_info is None or scores_info.name != classes_info.name)
        else None
    )
    for tensor, kind, dtype in ((classes, "classes", "DT_STRING"), (scores, "scores", "DT_FLOAT")):
        if tensor is None:
            continue
        if tensor.ndim != 2:
            raise _invalid(
                "Expected Tensor shape: [batch_size num_classes] but got "
                f"{shape_text(tensor.shape)}"
            )
        if datatype_name(tensor) != dtype:
            raise _invalid(f"Expected {kind} Tensor of {dtype}. Got: {datatype_name(tensor)}")
        if tensor.shape[0] != num_examples:
            raise _invalid(
                f"Expected {kind} output batch size of {num_examples}. Got: {tensor.shape[0]}"
            )
    if classes is not None and scores is not None and classes.shape[1] != scores.shape[1]:
        raise _invalid(
            "Tensors class and score should match in dim_size(1). Got "
            f"{classes.shape[1]} vs. {scores.shape[1]}"
        )
    shaped = classes if classes is not None else scores
    num_classes = shaped.shape[1] if shaped is not None else 0
    for i in range(num_examples):
        classifications = result.classifications.add()
        for j in range(num_classes):
            entry = classifications.classes.add()
            if classes is not None:
                entry.label = _text(classes[i, j])
            if scores is not None:
                entry.score = float(scores[i, j])


# ---- Regress ------------------------------------------------------------------------------


def run_regress(
    servable: Servable,
    request: regression_pb2.RegressionRequest,
    options: RunOptions,
    version: int | None,
) -> regression_pb2.RegressionResponse:
    signature = _examples_signature(
        servable,
        request.model_spec.signature_name,
        options,
        REGRESS_METHOD,
        "regression",
        _regression_tensors,
    )
    response = regression_pb2.RegressionResponse()
    _model_spec(
        response.model_spec, request.model_spec.name, request.model_spec.signature_name, version
    )
    input_name, output_names = _regression_tensors(signature, options.method_name_check)
    examples = _serialized_examples(request.input)
    outputs = options.run(servable, {input_name: examples}, output_names)
    _fill_regression(signature, len(examples), outputs, response.result)
    return response


def _fill_regression(
    signature: SignatureDef,
    num_examples: int,
    outputs: Outputs,
    result: regression_pb2.RegressionResult,
) -> None:
    """TF Serving's PostProcessRegressionResult."""
    output = outputs[signature.outputs[REGRESS_OUTPUTS].name]
    if not (output.ndim == 1 or (output.ndim == 2 and output.shape[1] == 1)):
        raise _invalid(
            "Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got "
            f"{shape_text(output.shape)}"
        )
    if output.shape[0] != num_examples:
        raise _invalid(
            f"Input batch size did not match output batch size: {num_examples} vs. "
            f"{output.shape[0]}"
        )
    if datatype_name(output) != "DT_FLOAT":
        raise _invalid(f"Expected output Tensor of DT_FLOAT.  Got: {datatype_name(output)}")
    if output.size != num_examples:
        raise _invalid(f"Expected output batch size to be {num_examples}.  Got: {output.size}")
    for value in output.reshape(-1):
        result.regressions.add().value = float(value)


# ---- MultiInference -----------------------------------------------------------------------


def run_multi_inference(
    servable: Servable,
    request: inference_pb2.MultiInferenceRequest,
    options: RunOptions,
    version: int | None,
) -> inference_pb2.MultiInferenceResponse:
    """TF Serving's TensorFlowMultiInferenceRunner: check every task, then one session run
    that feeds the examples to every task's input and fetches every task's outputs."""
    model_name = ""
    seen: set[str] = set()
    input_names: set[str] = set()
    output_names: set[str] = set()
    plan: list[tuple[inference_pb2.InferenceTask, SignatureDef]] = []
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
        signature = servable.signature_defs.get(signature_name)
        if signature is None:
            raise _invalid(f"Requested signature not found in model graph: {signature_name}")
        if task.method_name == CLASSIFY_METHOD:
            input_name, names = _classification_tensors(signature, options.method_name_check)
        elif task.method_name == REGRESS_METHOD:
            input_name, names = _regression_tensors(signature, options.method_name_check)
        else:
            raise errors.ServingError(
                grpc.StatusCode.UNIMPLEMENTED,
                f"Unsupported signature method_name: {task.method_name}",
            )
        input_names.add(input_name)
        output_names.update(names)
        plan.append((task, signature))

    examples = _serialized_examples(request.input)
    outputs = options.run(
        servable, dict.fromkeys(sorted(input_names), examples), sorted(output_names)
    )
    response = inference_pb2.MultiInferenceResponse()
    for task, signature in plan:
        result = response.results.add()
        if task.method_name == CLASSIFY_METHOD:
            _fill_classification(signature, len(examples), outputs, result.classification_result)
        else:
            _fill_regression(signature, len(examples), outputs, result.regression_result)
        _model_spec(
            result.model_spec, task.model_spec.name, task.model_spec.signature_name, version
        )
    return response


# ---- shared -------------------------------------------------------------------------------


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


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class Inference:
    """The PredictionService's inference calls: resolve the ModelSpec, then run."""

    def __init__(
        self,
        manager: ServableManager,
        batcher: BatchScheduler | None = None,
        method_name_check: bool = False,
    ) -> None:
        self._manager = manager
        self._batcher = batcher
        self.options = RunOptions(
            run=self._batched_run if batcher is not None else direct_run,
            method_name_check=method_name_check,
        )
        if batcher is not None:
            manager.add_unload_listener(self._forget_batches_of)

    def _forget_batches_of(self, servable: Servable) -> None:
        assert self._batcher is not None
        self._batcher.retire(lambda key: key[0] is servable)

    def _batched_run(
        self, servable: Servable, feeds: Mapping[str, np.ndarray], fetches: Sequence[str]
    ) -> Outputs:
        """Every session run goes through the batcher, one queue per servable and set of
        fed and fetched tensors (TF Serving's BatchingSession and its TensorSignature)."""
        assert self._batcher is not None
        ordered = sorted(set(fetches))
        key = (servable, frozenset(feeds), tuple(ordered))
        signature_key = servable.signature_key_for(feeds, ordered) or "custom"
        label = f"{servable_id(servable.name, servable.version)} {signature_key}"

        def run(batch_inputs: Mapping[str, np.ndarray]) -> Outputs:
            return servable.run(batch_inputs, ordered)

        return self._batcher.run(key, feeds, run, label)

    def predict(self, request: predict_pb2.PredictRequest) -> predict_pb2.PredictResponse:
        if not request.HasField("model_spec"):
            raise errors.missing_model_spec()
        servable = self._manager.resolve(request.model_spec)
        return run_predict(servable, request, self.options, servable.version)

    def classify(
        self, request: classification_pb2.ClassificationRequest
    ) -> classification_pb2.ClassificationResponse:
        if not request.HasField("model_spec"):
            raise errors.missing_model_spec()
        servable = self._manager.resolve(request.model_spec)
        return run_classify(servable, request, self.options, servable.version)

    def regress(
        self, request: regression_pb2.RegressionRequest
    ) -> regression_pb2.RegressionResponse:
        if not request.HasField("model_spec"):
            raise errors.missing_model_spec()
        servable = self._manager.resolve(request.model_spec)
        return run_regress(servable, request, self.options, servable.version)

    def multi_inference(
        self, request: inference_pb2.MultiInferenceRequest
    ) -> inference_pb2.MultiInferenceResponse:
        # TF Serving resolves the first task's model before it looks at the tasks.
        first = request.tasks[0] if request.tasks else None
        spec = first.model_spec if first is not None and first.HasField("model_spec") else None
        servable = self._manager.resolve(spec or model_pb2.ModelSpec())
        return run_multi_inference(servable, request, self.options, servable.version)
