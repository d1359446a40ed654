"""Liveness and readiness: can this worker take traffic?

Readiness needs the database, the cache and the model server, with every
catalogue model having an AVAILABLE version. Each check reports on its own so
an operator sees which one failed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import grpc
from django.core.cache import cache
from django.db import DatabaseError, connection

from predictions import upstream
from predictions.catalogue import catalogue_model_names
from predictions.tfserving.errors import UpstreamError
from predictions.tfserving.models import ModelRef
from predictions.tfserving.protos import get_model_status_pb2

OK = "ok"
AVAILABLE = get_model_status_pb2.ModelVersionStatus.State.Name(
    get_model_status_pb2.ModelVersionStatus.AVAILABLE
)


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(value == OK for value in self.checks.values()) and all(
            state == AVAILABLE for state in self.models.values()
        )

    def as_dict(self) -> dict:
        return {
            "status": "ready" if self.ready else "unavailable",
            "checks": self.checks,
            "models": self.models,
        }


def check_readiness(request_id: str | None = None) -> Readiness:
    model_server, models = _model_server_check(request_id)
    checks = {"database": _database_check(), "cache": _cache_check(), "model_server": model_server}
    return Readiness(checks=checks, models=models)


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
