"""The real processes the tests talk to, started by the project's own launcher."""

from __future__ import annotations

from serving_project.processes import (
    MODELS_CONFIG,
    ROOT,
    ModelServerProcess,
    free_port,
    model_server,
    wait_until_serving,
)
from serving_project.processes import terminate as stop

__all__ = [
    "MODELS_CONFIG",
    "ROOT",
    "ModelServerProcess",
    "free_port",
    "model_server",
    "stop",
    "wait_until_serving",
]
