"""What the model routes do, without HTTP: run a prediction or classify/regress, read a
model's status or metadata, list the models a caller may use.

Each function authorizes the caller (an unauthorized model is reported exactly as
an unknown one), talks to the model server through the per-process client, and
notes what it did on the request's audit entry. Conversion and gRPC details stay
in ``tfserving``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import grpc
from django.conf import settings

from predictions.access.grants import authorize, model_access
from predictions.access.selectors import usable_model_names
from predictions.audit.entry import AuditEntry, NullAuditEntry
from predictions.context import RequestContext
from predictions.deployments.routing import route as traffic_route
from predictions.inference import upstream
from predictions.payloads.capture import logged_exchange
from tfserving import codec, tracing
from tfserving.batch_limits import BatchLimits, examples_batch_size, predict_batch_size
from tfserving.errors import GatewayError, UpstreamError, with_hint
from tfserving.models import METHOD_NAMES, ExamplesMethod, ModelRef
from tfserving.signatures import DEFAULT_SIGNATURE, ModelSignatures


def resolve_model_ref(name: str, version: str | None = None, label: str | None = None) -> ModelRef:
    """The ModelRef of a URL: /v1/models/{name}[/versions/{version}|/labels/{label}]."""
    return ModelRef(name=name, version=int(version) if version else None, label=label or None)


def batch_limits() -> BatchLimits:
    """MAX_BATCH_SIZE and its per-model overrides (read per call: tests override them)."""
    return BatchLimits(settings.MAX_BATCH_SIZE, settings.MAX_BATCH_SIZE_PER_MODEL)


@contextlib.contextmanager
def _grpc_outcome(audit: AuditEntry | NullAuditEntry) -> Iterator[None]:
    """Notes the gRPC status of the block's model server calls: OK only if it completes."""
    try:
        yield
    except UpstreamError as error:
        audit.note_grpc_code(error.grpc_code.name)
        raise
    audit.note_grpc_code(grpc.StatusCode.OK.name)


@contextlib.contextmanager
def _timed_call(audit: AuditEntry | NullAuditEntry) -> Iterator[None]:
    """Adds the time spent in the block (one model server call) to the audit entry."""
    started = time.perf_counter()
    try:
        yield
    finally:
        audit.add_upstream_seconds(time.perf_counter() - started)


@contextlib.contextmanager
def _model_server_call(audit: AuditEntry | NullAuditEntry) -> Iterator[None]:
    """One model server call: its outcome and its time."""
    with _grpc_outcome(audit), _timed_call(audit):
        yield


@logged_exchange
def run_prediction(context: RequestContext, ref: ModelRef, body: object) -> dict:
    """A TF Serving predict: convert ``body`` by the signature, call Predict, render."""
    audit = context.audit
    audit.note_model("predict", ref)
    authorize(context.caller, ref)
    batch_limits().check(ref.name, predict_batch_size(body))  # before any model server call
    route = traffic_route(context, ref, "predict")  # no version named: the model's policy
    ref = route.ref
    signature_cache = upstream.signature_cache()
    with _grpc_outcome(audit):  # a body refused in between leaves no gRPC code
        with _timed_call(audit):
            signatures = signature_cache.get(ref)  # a cache miss asks the model server
        audit.note_version(signatures.version)
        with tracing.span("validate"):
            inputs = codec.parse_predict_request(body, signatures)
        audit.note_signature(inputs.signature_name)
        with _timed_call(audit):
            client = upstream.prediction_client()
            response = route.call(
                lambda target: client.predict(target, inputs, request_id=context.request_id)
            )
    served_version = response.model_spec.version.value
    audit.note_version(served_version)
    signature_cache.note_served_version(ref, served_version)
    return codec.render_predict_response(response, inputs.columnar)


@logged_exchange
def run_examples(
    context: RequestContext, ref: ModelRef, method: ExamplesMethod, body: object
) -> dict:
    """A TF Serving classify or regress on tf.Examples; the model server checks the signature."""
    audit = context.audit
    audit.note_model(method, ref)
    authorize(context.caller, ref)
    batch_limits().check(ref.name, examples_batch_size(body))  # before any model server call
    route = traffic_route(context, ref, method)  # no version named: the model's policy
    with tracing.span("validate"):
        signature_name, examples = codec.parse_examples_request(body)
    audit.note_signature(signature_name or DEFAULT_SIGNATURE)
    client = upstream.prediction_client()
    call = client.classify if method == "classify" else client.regress
    try:
        with _model_server_call(audit):
            response = route.call(
                lambda target: call(target, signature_name, examples, request_id=context.request_id)
            )
    except UpstreamError as error:
        if error.status_code == 400:
            used = signature_name or DEFAULT_SIGNATURE
            raise _with_fitting_signatures(error, route.ref, method, used) from error
        raise
    audit.note_version(response.model_spec.version.value)
    if method == "classify":
        return codec.render_classify_response(response)
    return codec.render_regress_response(response)


def _with_fitting_signatures(
    error: UpstreamError, ref: ModelRef, method: ExamplesMethod, used: str
) -> UpstreamError:
    """A refusal on a signature not made for ``method`` (TF Serving's text then rarely
    says so: "Expected one input Tensor."), followed by the model's ones that are."""
    try:
        signatures = upstream.signature_cache().get(ref)
    except GatewayError:
        return error  # the model server's own message is all there is to say
    signature = signatures.signatures.get(used)
    if signature is None or signature.method_name == METHOD_NAMES[method]:
        return error  # an unknown name (the message says so) or a fitting signature
    fitting = sorted(
        name
        for name, signature in signatures.signatures.items()
        if signature.method_name == METHOD_NAMES[method]
    )
    if not fitting:
        return with_hint(error, f"{ref.name} has no signature whose method is {method}")
    names = ", ".join(f'"{name}"' for name in fitting)
    return with_hint(
        error, f'Signatures of {ref.name} that {method}: {names} (send "signature_name")'
    )


def model_status(context: RequestContext, ref: ModelRef) -> dict:
    """TF Serving's GET /v1/models/{name}[/versions/{v}]: the versions and their states."""
    context.audit.note_model("status", ref)
    authorize(context.caller, ref, for_status=True)
    with _model_server_call(context.audit):
        response = upstream.prediction_client().get_model_status(ref, request_id=context.request_id)
    return codec.render_model_status(response)


def model_metadata(context: RequestContext, ref: ModelRef) -> dict:
    """TF Serving's GET .../metadata: the model spec and its signature definitions."""
    audit = context.audit
    audit.note_model("metadata", ref)
    authorize(context.caller, ref)
    with _model_server_call(audit):
        response = upstream.prediction_client().get_model_metadata(
            ref, request_id=context.request_id
        )
    audit.note_version(response.model_spec.version.value)
    return codec.render_model_metadata(response)


def list_models(context: RequestContext) -> list[dict]:
    """The models the caller may use, each with its versions' states from the model server.

    A model the server does not (yet) serve is listed with no versions.
    """
    context.audit.note_method("list")
    names = usable_model_names(model_access(context.caller))
    client = upstream.prediction_client()
    models = []
    with _model_server_call(context.audit):
        for name in names:
            try:
                response = client.get_model_status(ModelRef(name), request_id=context.request_id)
            except UpstreamError as error:
                if error.grpc_code is not grpc.StatusCode.NOT_FOUND:
                    raise
                versions: list[dict] = []
            else:
                versions = codec.render_model_status(response)["model_version_status"]
            models.append({"name": name, "model_version_status": versions})
    return models


def model_signatures(context: RequestContext, ref: ModelRef) -> ModelSignatures:
    """The signatures of a model the caller may use (the browsable API's inference pages)."""
    audit = context.audit
    audit.note_model("metadata", ref)
    authorize(context.caller, ref)
    with _model_server_call(audit):
        signatures = upstream.signature_cache().get(ref)
    audit.note_version(signatures.version)
    return signatures
