"""Setting and reading payload logging policies, for staff only, every change recorded.

Anyone else is told the model does not exist (the 404 of an unknown model), as on every
model route: a caller without a grant cannot learn that a model exists.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from predictions.access.callers import Caller
from predictions.context import RequestContext
from predictions.payloads import policies
from predictions.payloads.models import PayloadLog, PayloadLoggingPolicy, PayloadPolicyChange
from predictions.payloads.policies import OFF, Policy
from tfserving.errors import ModelNotFound
from tfserving.models import ModelRef

_PRUNE_BATCH = 5_000


def require_staff(caller: Caller, ref: ModelRef) -> None:
    """Raise the 404 of an unknown model unless the caller is active staff."""
    staff = (
        caller.user_id is not None
        and get_user_model()
        .objects.filter(pk=caller.user_id, is_active=True, is_staff=True)
        .exists()
    )
    if not staff:
        raise ModelNotFound(ref)


def _rows(ref: ModelRef):
    return PayloadLoggingPolicy.objects.filter(
        model_name=ref.name, model_version=ref.version, version_label=ref.label or ""
    )


def policy_of(context: RequestContext, ref: ModelRef) -> dict:
    """The policy set for exactly this model, version or label (the default if none)."""
    context.audit.note_model("logging", ref)
    require_staff(context.caller, ref)
    return describe(ref, _rows(ref).first())


def set_policy(context: RequestContext, ref: ModelRef, values: dict) -> dict:
    """Create or replace the policy of ``ref`` (validated values); records the change."""
    context.audit.note_model("logging", ref)
    require_staff(context.caller, ref)
    with transaction.atomic():
        row = _rows(ref).select_for_update().first()
        before = Policy.of(row).as_dict() if row is not None else None
        if row is None:
            row = PayloadLoggingPolicy(
                model_name=ref.name, model_version=ref.version, version_label=ref.label or ""
            )
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_by = context.caller.username
        row.save()
        record_change(
            row,
            before,
            Policy.of(row).as_dict(),
            context.caller.username,
            "api",
            context.request_id,
        )
    policies.forget()
    return describe(ref, row)


def delete_policy(context: RequestContext, ref: ModelRef) -> dict:
    """Remove the policy of ``ref`` (its exchanges are no longer logged, unless a wider
    policy applies); records the change. Answers the default policy."""
    context.audit.note_model("logging", ref)
    require_staff(context.caller, ref)
    with transaction.atomic():
        row = _rows(ref).select_for_update().first()
        if row is not None:
            before = Policy.of(row).as_dict()
            row.delete()
            record_change(row, before, None, context.caller.username, "api", context.request_id)
    policies.forget()
    return describe(ref, None)


def record_change(
    row: PayloadLoggingPolicy,
    before: dict | None,
    after: dict | None,
    changed_by: str,
    source: str,
    request_id: str = "",
) -> PayloadPolicyChange:
    return PayloadPolicyChange.objects.create(
        changed_by=changed_by,
        source=source,
        request_id=request_id,
        model_name=row.model_name,
        model_version=row.model_version,
        version_label=row.version_label,
        before=before,
        after=after,
    )


def describe(ref: ModelRef, row: PayloadLoggingPolicy | None) -> dict:
    policy = Policy.of(row) if row is not None else OFF
    return {
        "model": ref.name,
        "version": ref.version,
        "label": ref.label,
        "configured": row is not None,
        **policy.as_dict(),
        "updated_at": row.updated_at if row is not None else None,
        "updated_by": row.updated_by if row is not None else "",
    }


def prune(older_than: timedelta) -> int:
    """Delete logged exchanges older than ``older_than``, in batches; the number deleted."""
    cutoff = timezone.now() - older_than
    deleted = 0
    while True:
        ids = list(
            PayloadLog.objects.filter(created_at__lt=cutoff).values_list("id", flat=True)[
                :_PRUNE_BATCH
            ]
        )
        if not ids:
            return deleted
        deleted += PayloadLog.objects.filter(id__in=ids).delete()[0]
