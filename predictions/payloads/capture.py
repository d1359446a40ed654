"""The hook the inference services carry: hand each exchange to payload logging.

``@logged_exchange`` wraps a service ``(context, ref, ..., body)``. When it has answered
or failed, the policy for the model (and the version that answered, or the label the
request named) decides whether this exchange is logged; a model without a policy costs a
set lookup. A logged exchange is redacted, serialised and cut to size here, once, and the
finished record is queued for each of the policy's sinks (queue.py): no sink is written
in the request's thread, and nothing here can fail or change the request's answer.

A request refused as an unknown model (or for want of a grant, which looks the same)
never reached a model and is not logged.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.utils import timezone

from predictions.context import RequestContext
from predictions.inference import upstream
from predictions.operations import metrics
from predictions.payloads import policies, sinks
from predictions.payloads.policies import Policy
from predictions.payloads.records import PayloadRecord, payload
from predictions.payloads.redaction import redaction_for
from tfserving import tracing
from tfserving.errors import GatewayError, ModelNotFound
from tfserving.models import ModelRef
from tfserving.signatures import Signature
from tfserving.tensors import dtype_name

log = logging.getLogger(__name__)

_Service = TypeVar("_Service", bound=Callable[..., dict])
_INTERNAL = {"error": "Internal server error", "code": "internal"}


def logged_exchange(service: _Service) -> _Service:
    """Decorates an inference service: its exchanges are logged as the model's policy says."""

    @functools.wraps(service)
    def logging_service(context: RequestContext, ref: ModelRef, *args: Any) -> dict:
        body = args[-1]
        try:
            answer = service(context, ref, *args)
        except ModelNotFound:
            raise
        except GatewayError as error:
            _capture(
                context, ref, body, error.status_code, {"error": error.message, "code": error.code}
            )
            raise
        except Exception:
            _capture(context, ref, body, 500, _INTERNAL)
            raise
        _capture(context, ref, body, 200, answer)
        return answer

    return logging_service  # type: ignore[return-value]


def _capture(context: RequestContext, ref: ModelRef, body: Any, status: int, answer: dict) -> None:
    try:
        version = getattr(context.audit, "model_version", None) or ref.version
        policy = policies.policy_for(ref.name, version, ref.label)
        if policy is None:
            return
        reason = policy.reason_to_log(context.request_id, failed=status >= 400)
        if reason is None:
            return
        with tracing.span("payload_log", {"payload_log.reason": reason}):
            record = build_record(context, ref, policy, reason, body, status, answer)
            for name in policy.sinks:
                sink_writer = sinks.writer(name)
                if sink_writer is None:
                    metrics.payload_records_dropped(name, "not_configured")
                else:
                    sink_writer.submit(record)
    except Exception:  # whatever goes wrong here, the request's answer stands
        log.exception("Could not log the payloads of request %s", context.request_id)


def build_record(
    context: RequestContext,
    ref: ModelRef,
    policy: Policy,
    reason: str,
    body: Any,
    status: int,
    answer: dict,
) -> PayloadRecord:
    audit = context.audit
    signature_name = getattr(audit, "signature_name", "") or _signature_name_of(body)
    version = getattr(audit, "model_version", None) or ref.version
    # An exchange that failed in the model server may not have its signature cached, and
    # asking now would slow the failure down: its unnamed values are redacted whole.
    known = policy.redact and status < 500
    signature = _signature(ref, signature_name) if known else None
    redaction = redaction_for(policy.redact, _dtypes(signature))
    request = redaction.body(body, _only(signature.inputs) if signature else None)
    if status >= 400:
        response = redaction.error(answer)
    else:
        response = redaction.body(answer, _only(signature.outputs) if signature else None)
    return PayloadRecord(
        created_at=getattr(audit, "created_at", None) or timezone.now(),
        request_id=context.request_id,
        client_request_id=getattr(audit, "client_request_id", ""),
        trace_id=tracing.current_trace_id(),
        traceparent=tracing.current_traceparent(),
        model_name=ref.name,
        model_version=version,
        version_label=ref.label or "",
        signature_name=signature_name,
        method=getattr(audit, "method", ""),
        caller=context.caller.username,
        http_status=status,
        error_code="" if status < 400 else str(answer.get("code", "")),
        reason=reason,
        request=payload(request, policy.max_bytes) if "request" in policy.directions else None,
        response=payload(response, policy.max_bytes) if "response" in policy.directions else None,
        redacted=tuple(sorted(redaction.redacted)),
    )


def _signature_name_of(body: Any) -> str:
    name = body.get("signature_name", "") if isinstance(body, dict) else ""
    return name if isinstance(name, str) else ""


def _signature(ref: ModelRef, signature_name: str) -> Signature | None:
    """The signature the exchange used (the service has just read it into the cache)."""
    try:
        return upstream.signature_cache().get(ref).signature(signature_name)
    except GatewayError:
        return None  # unattributable values are then redacted whole


def _only(specs: dict) -> str | None:
    return next(iter(specs)) if len(specs) == 1 else None


def _dtypes(signature: Signature | None) -> dict[str, str]:
    if signature is None:
        return {}
    specs = {**signature.inputs, **signature.outputs}
    return {name: dtype_name(spec.dtype) for name, spec in specs.items()}
