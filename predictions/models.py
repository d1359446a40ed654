"""The app's tables, defined in the package that owns each (Django looks for them here)."""

from predictions.access.models import ALL_MODELS, ApiKey, ModelGrant, TokenFamilyMember
from predictions.audit.models import AuditRecord
from predictions.deployments.models import (
    DeployGrant,
    DeploymentEvent,
    DeploymentState,
    ReconcileReport,
    ServedModel,
    VersionLabel,
)
from predictions.payloads.models import PayloadLog, PayloadLoggingPolicy, PayloadPolicyChange

__all__ = [
    "ALL_MODELS",
    "ApiKey",
    "AuditRecord",
    "DeployGrant",
    "DeploymentEvent",
    "DeploymentState",
    "ModelGrant",
    "PayloadLog",
    "PayloadLoggingPolicy",
    "PayloadPolicyChange",
    "ReconcileReport",
    "ServedModel",
    "TokenFamilyMember",
    "VersionLabel",
]
