"""The errors the server answers with, worded exactly as TensorFlow Serving words them.

Clients (the gateway among them) match on these status codes and texts, so every
message a request can trigger is built here, in one place, and documented in
modelserver/README.md. Failures inside a session run (wrong dtypes, graph errors) are
TensorFlow's own, passed through with their code and text as TF Serving passes them.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc


class ServingError(Exception):
    """A request failed with a gRPC status code and a client-facing message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _joined(names: Iterable[str]) -> str:
    # TF Serving prints name sets from std::set: sorted, comma-separated, no spaces.
    return ",".join(sorted(names))


def servable_not_found(request_description: str) -> ServingError:
    """``request_description`` is ``Latest(name)`` or ``Specific(name, version)``."""
    return ServingError(
        grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {request_description}"
    )


def unknown_version_label(label: str) -> ServingError:
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT, f"Unrecognized servable version label: {label}"
    )


def missing_model_name() -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, "ModelSpec has no name specified.")


def missing_model_spec() -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec")


def no_versions_of_model(model_name: str) -> ServingError:
    return ServingError(
        grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {model_name}"
    )


def no_such_version(model_name: str, version: int) -> ServingError:
    return ServingError(
        grpc.StatusCode.NOT_FOUND, f"Could not find version {version} of model {model_name}"
    )


def predict_signature_not_found(signature_name: str) -> ServingError:
    return ServingError(
        grpc.StatusCode.FAILED_PRECONDITION,
        f'Serving signature key "{signature_name}" not found.',
    )


def signature_not_found_by_name(signature_name: str) -> ServingError:
    """Classify and Regress word a missing signature differently from Predict."""
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT, f"No signature was found with the name: {signature_name}"
    )


def wrong_prediction_method(method_name: str) -> ServingError:
    return ServingError(
        grpc.StatusCode.INTERNAL,
        "Expected prediction signature method_name to be one of {tensorflow/serving/predict, "
        f"tensorflow/serving/classify, tensorflow/serving/regress}}. Was: {method_name}",
    )


def wrong_method(kind: str, expected: str, method_name: str) -> ServingError:
    """``kind`` is ``classification`` or ``regression``."""
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"Expected {kind} signature method_name to be {expected}. Was: {method_name}",
    )


def input_size_mismatch(sent: Iterable[str], expected: Iterable[str]) -> ServingError:
    sent_set, expected_set = set(sent), set(expected)
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"input size does not match signature: {len(sent_set)}!={len(expected_set)} "
        f"len({{{_joined(sent_set)}}}) != len({{{_joined(expected_set)}}}). "
        f"Sent extra: {{{_joined(sent_set - expected_set)}}}. "
        f"Missing but required: {{{_joined(expected_set - sent_set)}}}.",
    )


def input_not_in_request(
    alias: str, feed_name: str, sent: Iterable[str], defaults: Iterable[str]
) -> ServingError:
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"Signature input alias: {alias}(feed name: {feed_name}) not found in request and no "
        f"default value provided. Inputs expected to be in the request {{{_joined(sent)}}}, "
        f"or default input alias set: {_joined(defaults)}",
    )


def invalid_input_name(used: Iterable[str], sent: Iterable[str]) -> ServingError:
    """Only reachable with signature defaults: as many inputs as the signature, one misnamed."""
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"Inputs contains invalid name. Used request inputs: {_joined(used)}, "
        f"request input: {_joined(sent)}",
    )


def tensor_parsing_error(alias: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"tensor parsing error: {alias}")


def unknown_output_alias(alias: str, outputs: Iterable[str]) -> ServingError:
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"output tensor alias not found in signature: {alias} "
        f"Outputs expected to be in the set {{{_joined(outputs)}}}.",
    )


def duplicate_output_alias(alias: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, f"duplicate output tensor alias: {alias}")


def unequal_batch_sizes() -> ServingError:
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "Batching Run() input tensors must have equal 0th-dimension size",
    )


def no_batch_inputs() -> ServingError:
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT, "Batching Run() must have at least one input tensor"
    )


def scalar_batch_input() -> ServingError:
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "Batching Run() input tensors must have at least one dimension",
    )


def task_larger_than_batch(size: int, max_batch_size: int) -> ServingError:
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"Task size {size} is larger than maximum input batch size {max_batch_size}",
    )


def batch_queue_full(enqueued: int, max_enqueued: int) -> ServingError:
    return ServingError(
        grpc.StatusCode.UNAVAILABLE,
        "The batch scheduling queue to which this task was submitted is full; currently "
        f"{enqueued} batches enqueued and max_enqueued_batches is {max_enqueued}",
    )


def shutting_down() -> ServingError:
    """Not a TF Serving message (its C++ server refuses calls inside gRPC while stopping)."""
    return ServingError(grpc.StatusCode.UNAVAILABLE, "Server is shutting down")


def metadata_field_missing() -> ServingError:
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT,
        "GetModelMetadataRequest must specify at least one metadata_field",
    )


def metadata_field_unsupported(field: str) -> ServingError:
    return ServingError(
        grpc.StatusCode.INVALID_ARGUMENT, f"Metadata field {field} is not supported"
    )


def empty_input() -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, "Input is empty.")


_CODES_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def code_for_number(number: int) -> grpc.StatusCode:
    return _CODES_BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)


def from_exception(error: BaseException) -> ServingError:
    """A ServingError for any failure: TensorFlow's own errors (tf.errors.OpError) keep
    their canonical code and message, as TF Serving passes session errors through;
    anything else is INTERNAL."""
    if isinstance(error, ServingError):
        return error
    code = getattr(error, "error_code", None)
    message = getattr(error, "message", None)
    if isinstance(code, int) and isinstance(message, str) and code in _CODES_BY_NUMBER:
        return ServingError(_CODES_BY_NUMBER[code], message)
    return ServingError(grpc.StatusCode.INTERNAL, str(error) or type(error).__name__)


def status_string(code: grpc.StatusCode, message: str) -> str:
    """absl::Status::ToString, as TF Serving prints a status in logs and nested messages."""
    return f"{code.name}: {message}"
