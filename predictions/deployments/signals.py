"""Signal receivers: this worker reads the traffic policies and the model list again as
soon as a change to them commits (other workers within DEPLOYMENT_CACHE_SECONDS)."""

from __future__ import annotations

from typing import Any

from django.core.signals import setting_changed
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from predictions.deployments import routing, shadow
from predictions.deployments.models import DeploymentState, ServedModel


@receiver([post_save, post_delete], sender=ServedModel)
@receiver(post_save, sender=DeploymentState)
def deployment_changed(sender: type, **kwargs: Any) -> None:
    routing.invalidate()
    # Again after the commit: a request refreshing in between read the old rows.
    transaction.on_commit(routing.invalidate)


@receiver(setting_changed)
def deployment_setting_changed(setting: str, **kwargs: Any) -> None:
    if setting == "DEPLOYMENT_CACHE_SECONDS":
        routing.invalidate()
    elif setting.startswith("SHADOW_"):
        shadow.reset()
