"""A policy saved or deleted anywhere (API, admin, shell) refreshes this process's snapshot."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from predictions.payloads import policies
from predictions.payloads.models import PayloadLoggingPolicy


@receiver([post_save, post_delete], sender=PayloadLoggingPolicy)
def forget_policies(**kwargs: object) -> None:
    policies.forget()
