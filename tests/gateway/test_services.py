"""The services run without HTTP: a prediction is a function call."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from predictions.access.callers import Caller
from predictions.audit.entry import AuditEntry
from predictions.context import RequestContext
from predictions.inference import services
from tfserving import jsonio
from tfserving.errors import InvalidInput, ModelNotFound
from tfserving.models import ModelRef

pytestmark = pytest.mark.django_db


def new_entry() -> AuditEntry:
    return AuditEntry(
        created_at=timezone.now(),
        started=time.perf_counter(),
        request_id="r1",
        http_method="POST",
        path="/",
        request_bytes=0,
    )


def test_run_prediction_returns_the_tf_serving_body_and_notes_the_audit_fields(
    alice: User, model_server_address: str
) -> None:
    entry = new_entry()

    body = services.run_prediction(
        RequestContext(Caller(alice.pk, "alice"), "r1", entry),
        ModelRef("half_plus_two", label="stable"),
        {"instances": [2.0]},
    )

    assert jsonio.loads(jsonio.dumps(body)) == {"predictions": [3.0]}
    assert (entry.method, entry.model_name, entry.version_label) == (
        "predict",
        "half_plus_two",
        "stable",
    )
    assert (entry.model_version, entry.signature_name, entry.grpc_code) == (
        1,
        "serving_default",
        "OK",
    )


def test_run_prediction_refuses_a_caller_without_grant_as_an_unknown_model(
    model_server_address: str,
) -> None:
    with pytest.raises(ModelNotFound, match=r"Servable not found for request: Latest\(iris\)"):
        services.run_prediction(
            RequestContext(Caller(user_id=12345, username="ghost")), ModelRef("iris"), {}
        )


def test_run_prediction_validates_before_calling(alice: User, model_server_address: str) -> None:
    entry = new_entry()

    with pytest.raises(InvalidInput, match="Input 'x' expects float tensor"):
        services.run_prediction(
            RequestContext(Caller(alice.pk), audit=entry),
            ModelRef("half_plus_two"),
            {"instances": ["a"]},
        )

    assert entry.grpc_code == ""


def test_resolve_model_ref_reads_the_url_parts() -> None:
    assert services.resolve_model_ref("m", "3", None) == ModelRef("m", version=3)
    assert services.resolve_model_ref("m", None, "canary") == ModelRef("m", label="canary")
    assert services.resolve_model_ref("m") == ModelRef("m")
