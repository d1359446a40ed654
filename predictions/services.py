"""What the API does, without HTTP: run a prediction, read a model's status or metadata;
issue and revoke API keys.

Each function authorizes the caller (an unauthorized model is reported exactly as
an unknown one), talks to the model server through the per-process client, and
notes what it did on the request's audit entry. Conversion and gRPC details stay
in ``predictions.tfserving``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import grpc
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from predictions import examples, selectors, upstream
from predictions.api_keys import generate_key
from predictions.audit import AuditEntry
from predictions.callers import Caller
from predictions.models import ApiKey
from predictions.permissions import authorize, model_access
from predictions.tfserving import codec
from predictions.tfserving.errors import GatewayError, UpstreamError
from predictions.tfserving.models import ModelRef
from predictions.tfserving.signatures import DEFAULT_SIGNATURE

ExamplesMethod = Literal["classify", "regress"]


def resolve_model_ref(name: str, version: str | None = None, label: str | None = None) -> ModelRef:
    """The ModelRef of a URL: /v1/models/{name}[/versions/{version}|/labels/{label}]."""
    return ModelRef(name=name, version=int(version) if version else None, label=label or None)


@contextlib.contextmanager
def _upstream_outcome(audit: AuditEntry | None) -> Iterator[None]:
    """Notes the gRPC status of the model server calls made inside the block."""
    try:
        yield
    except UpstreamError as error:
        if audit is not None:
            audit.grpc_code = error.grpc_code.name
        raise
    if audit is not None:
        audit.grpc_code = grpc.StatusCode.OK.name


@contextlib.contextmanager
def _model_server_call(audit: AuditEntry | None) -> Iterator[None]:
    """Adds the time spent in the block (one model server call) to the audit entry."""
    started = time.perf_counter()
    try:
        yield
    finally:
        if audit is not None:
            audit.upstream_seconds += time.perf_counter() - started


def run_prediction(
    caller: Caller,
    ref: ModelRef,
    body: object,
    *,
    request_id: str | None = None,
    audit: AuditEntry | None = None,
) -> dict:
    """A TF Serving predict: validate ``body`` against the signature, call Predict, render."""
    if audit is not None:
        audit.note_model("predict", ref)
    authorize(caller, ref)
    signature_cache = upstream.signature_cache()
    with _upstream_outcome(audit):
        with _model_server_call(audit):  # a cache miss asks the model server
            signatures = signature_cache.get(ref)
        if audit is not None:
            audit.model_version = signatures.version
        inputs = codec.parse_predict_request(body, signatures)
        if audit is not None:
            audit.signature_name = inputs.signature_name
        with _model_server_call(audit):
            response = upstream.prediction_client().predict(ref, inputs, request_id=request_id)
    served_version = response.model_spec.version.value
    if audit is not None:
        audit.model_version = served_version
    signature_cache.note_served_version(ref, served_version)
    return codec.render_predict_response(response, inputs.columnar)


def run_examples(
    caller: Caller,
    ref: ModelRef,
    method: ExamplesMethod,
    body: object,
    *,
    request_id: str | None = None,
    audit: AuditEntry | None = None,
) -> dict:
    """A TF Serving classify or regress on tf.Examples; the model server checks the signature."""
    if audit is not None:
        audit.note_model(method, ref)
    authorize(caller, ref)
    signature_name, examples = codec.parse_examples_request(body)
    if audit is not None:
        audit.signature_name = signature_name or DEFAULT_SIGNATURE
    client = upstream.prediction_client()
    with _upstream_outcome(audit), _model_server_call(audit):
        if method == "classify":
            response = client.classify(ref, signature_name, examples, request_id=request_id)
        else:
            response = client.regress(ref, signature_name, examples, request_id=request_id)
    if audit is not None:
        audit.model_version = response.model_spec.version.value
    if method == "classify":
        return codec.render_classify_response(response)
    return codec.render_regress_response(response)


def model_status(
    caller: Caller,
    ref: ModelRef,
    *,
    request_id: str | None = None,
    audit: AuditEntry | None = None,
) -> dict:
    """TF Serving's GET /v1/models/{name}[/versions/{v}]: the versions and their states."""
    if audit is not None:
        audit.note_model("status", ref)
    authorize(caller, ref, for_status=True)
    with _upstream_outcome(audit), _model_server_call(audit):
        response = upstream.prediction_client().get_model_status(ref, request_id=request_id)
    return codec.render_model_status(response)


def model_metadata(
    caller: Caller,
    ref: ModelRef,
    *,
    request_id: str | None = None,
    audit: AuditEntry | None = None,
) -> dict:
    """TF Serving's GET .../metadata: the model spec and its signature definitions."""
    if audit is not None:
        audit.note_model("metadata", ref)
    authorize(caller, ref)
    with _upstream_outcome(audit), _model_server_call(audit):
        response = upstream.prediction_client().get_model_metadata(ref, request_id=request_id)
    if audit is not None:
        audit.model_version = response.model_spec.version.value
    return codec.render_model_metadata(response)


def list_models(
    caller: Caller, *, request_id: str | None = None, audit: AuditEntry | None = None
) -> list[dict]:
    """The models ``caller`` may use, each with its versions' states from the model server.

    A model the server does not (yet) serve is listed with no versions.
    """
    if audit is not None:
        audit.method = "list"
    names = selectors.usable_model_names(model_access(caller))
    client = upstream.prediction_client()
    models = []
    with _upstream_outcome(audit), _model_server_call(audit):
        for name in names:
            try:
                response = client.get_model_status(ModelRef(name), request_id=request_id)
            except UpstreamError as error:
                if error.grpc_code is not grpc.StatusCode.NOT_FOUND:
                    raise
                versions: list[dict] = []
            else:
                versions = codec.render_model_status(response)["model_version_status"]
            models.append({"name": name, "model_version_status": versions})
    return models


@dataclass(frozen=True)
class ModelState:
    """A model as the model server reports it: (version, state) pairs, or why not."""

    name: str
    versions: tuple[tuple[int, str], ...] = ()
    problem: str = ""


def model_server_states(names: Iterable[str], *, request_id: str | None = None) -> list[ModelState]:
    """The versions and states of ``names`` (for staff: no grants apply).

    Uses the probe client (short deadline, no retries) so a page that shows them
    answers quickly while the model server is down.
    """
    client = upstream.probe_client()
    states = []
    for name in names:
        try:
            response = client.get_model_status(ModelRef(name), request_id=request_id)
        except UpstreamError as error:
            states.append(ModelState(name, problem=f"{error.code}: {error.message}"))
            continue
        versions = codec.render_model_status(response)["model_version_status"]
        states.append(
            ModelState(
                name,
                tuple(sorted((int(v["version"]), v["state"]) for v in versions)),
            )
        )
    return states


def example_request(caller: Caller, ref: ModelRef, method: examples.InferenceMethod) -> dict | None:
    """A request body the model's signature accepts, for the browsable API's form.

    None when the caller may not use the model or the model server cannot say.
    """
    try:
        authorize(caller, ref)
        signatures = upstream.signature_cache().get(ref)
    except GatewayError:
        return None
    return examples.example_request(signatures, method)


# --- API keys -------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    key: str  # the only time the key exists in clear text


def issue_api_key(
    owner: AbstractBaseUser, name: str, *, expires_at: datetime | None = None
) -> IssuedApiKey:
    generated = generate_key()
    api_key = ApiKey.objects.create(
        owner=owner,
        name=name,
        prefix=generated.prefix,
        key_hash=generated.key_hash,
        expires_at=expires_at,
    )
    return IssuedApiKey(api_key=api_key, key=generated.key)


def revoke_api_key(api_key: ApiKey) -> None:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])  # post_save drops the cached identity
