"""Who may change a model's deployment: staff, and users or groups with a DeployGrant.

Separate from the predict grant. A caller without it gets the very 404 an unknown model
gets, on every deployment route, before anything else about the request is looked at
(body, version, label), so these routes tell them nothing. API keys act for their owner.
Looked up on each deployment request, not cached: these requests are rare, and a
revoked right then ends at once in every worker.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q

from predictions.access.callers import Caller
from predictions.access.models import ALL_MODELS
from predictions.context import RequestContext
from predictions.deployments import seeding, selectors
from predictions.deployments.changes import database_errors
from predictions.deployments.models import DeployGrant, ServedModel
from tfserving.errors import ModelNotFound
from tfserving.models import ModelRef


def may_deploy(caller: Caller, model_name: str) -> bool:
    if caller.user_id is None:
        return False
    user = (
        get_user_model()
        .objects.filter(pk=caller.user_id)
        .values("is_active", "is_staff", "is_superuser")
        .first()
    )
    if user is None or not user["is_active"]:
        return False
    if user["is_staff"] or user["is_superuser"]:
        return True
    return (
        DeployGrant.objects.filter(Q(user_id=caller.user_id) | Q(group__user__id=caller.user_id))
        .filter(model_name__in=(model_name, ALL_MODELS))
        .exists()
    )


def authorize_deploy(caller: Caller, model_name: str) -> None:
    """Raise the 404 of an unknown model unless ``caller`` may change ``model_name``."""
    if not may_deploy(caller, model_name):
        raise ModelNotFound(ModelRef(model_name))


def deployable_model(context: RequestContext, method: str, ref: ModelRef) -> ServedModel:
    """The gate of every deployment route: note the request on its audit entry, check the
    deploy permission, then find the model; both failures are the same 404."""
    context.audit.note_model(method, ref)
    with database_errors():
        authorize_deploy(context.caller, ref.name)
        seeding.seed_once()  # the first deployment request finds the seeded models
        model = selectors.served_model(ref.name)
    if model is None:
        raise ModelNotFound(ModelRef(ref.name))
    return model
