"""Liveness and readiness: can this worker take traffic?

Readiness needs the database, the cache, the model server, with every
catalogue model having an AVAILABLE version, and an audit writer that is not
stuck. Anyone gets the plain answer ("ready" or "unavailable"); the checks, the
per-model states and the audit writer's figures go only to staff and to the
metrics token, since a model name is itself something a caller without a grant
must not learn.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import grpc
from django.core.cache import cache
from django.db import DatabaseError, connection
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.views import APIView

from predictions.audit import writer as audit_writer
from predictions.inference import upstream
from predictions.inference.catalogue import catalogue_model_names
from predictions.operations.permissions import HasMetricsToken
from tfserving.errors import UpstreamError
from tfserving.models import ModelRef
from tfserving.protos import get_model_status_pb2

OK = "ok"
AVAILABLE = get_model_status_pb2.ModelVersionStatus.State.Name(
    get_model_status_pb2.ModelVersionStatus.AVAILABLE
)


DETAIL_READERS = IsAdminUser | HasMetricsToken


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    audit: dict = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(value == OK for value in self.checks.values()) and all(
            state == AVAILABLE for state in self.models.values()
        )

    def as_dict(self, *, detail: bool = False) -> dict:
        answer: dict = {"status": "ready" if self.ready else "unavailable"}
        if detail:
            answer.update(checks=self.checks, models=self.models, audit=self.audit)
        return answer


def may_see_detail(request: Request, view: APIView) -> bool:
    """Staff and the metrics token see the checks and models; anyone else the status."""
    return bool(DETAIL_READERS().has_permission(request, view))


def check_readiness(request_id: str | None = None) -> Readiness:
    model_server, models = _model_server_check(request_id)
    audit_check, audit = _audit_check()
    checks = {
        "database": _database_check(),
        "cache": _cache_check(),
        "model_server": model_server,
        "audit": audit_check,
    }
    return Readiness(checks=checks, models=models, audit=audit)


def _audit_check() -> tuple[str, dict]:
    """Not ready while this worker's audit writer is dead or makes no progress."""
    status = audit_writer.status()
    if status is None:
        return OK, {}
    if not status.running:
        return "error: audit writer not running", status.as_dict()
    if status.stuck:
        return (
            f"error: audit writer stuck, {status.pending} records pending for "
            f"{status.seconds_since_progress:.0f} s",
            status.as_dict(),
        )
    return OK, status.as_dict()


def _database_check() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        return f"error: {type(error).__name__}"
    return OK


def _cache_check() -> str:
    key, value = f"readyz:{uuid.uuid4().hex}", uuid.uuid4().hex
    cache.set(key, value, timeout=10)
    answer = cache.get(key)
    cache.delete(key)
    return OK if answer == value else "error: cache did not return the value just stored"


def _model_server_check(request_id: str | None) -> tuple[str, dict[str, str]]:
    """("ok" or why not, {model: state}) using a short deadline and no retries."""
    names = catalogue_model_names()
    if not names:
        return "error: MODEL_CONFIG_FILE lists no models to check", {}
    client = upstream.probe_client()
    models: dict[str, str] = {}
    for name in names:
        try:
            response = client.get_model_status(ModelRef(name), request_id=request_id)
        except UpstreamError as error:
            if error.grpc_code is not grpc.StatusCode.NOT_FOUND:
                return f"error: {error.code}", models
            models[name] = "NOT_FOUND"
            continue
        states = {
            get_model_status_pb2.ModelVersionStatus.State.Name(status.state)
            for status in response.model_version_status
        }
        models[name] = AVAILABLE if AVAILABLE in states else ",".join(sorted(states)) or "NONE"
    return OK, models
