"""Signal receivers: the per-process model server client follows settings changes."""

from __future__ import annotations

from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from predictions.inference import upstream


@receiver(setting_changed)
def upstream_setting_changed(setting: str, **kwargs: Any) -> None:
    """Tests override the model server address; the per-process client follows."""
    if setting.startswith("TFSERVING_") or setting == "SIGNATURE_CACHE_SECONDS":
        upstream.reset()
