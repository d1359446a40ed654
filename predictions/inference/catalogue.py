"""The model catalogue: the names of the models that should be served.

Once the deployment tables are seeded (predictions.deployments), they own the served
configuration and the catalogue is their model list, so a model added or removed
through the gateway appears in, or leaves, GET /v1/models and /readyz. Before that, it
is the names in the ``models.config`` the model server (or TF Serving) is started with,
re-read when the file changes.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from django.conf import settings
from google.protobuf import text_format

from tfserving.protos import model_server_config_pb2

log = logging.getLogger(__name__)


def catalogue_model_names() -> tuple[str, ...]:
    """The deployment tables' models (kept per worker, no query per call) once they are
    seeded, else the names in MODEL_CONFIG_FILE, in file order; empty if the file is
    missing or invalid."""
    # Imported here: the deployment package itself builds on the inference services.
    from predictions.deployments.routing import served_model_names

    served = served_model_names()
    if served is not None:
        return served
    path = Path(settings.MODEL_CONFIG_FILE)
    try:
        modified = path.stat().st_mtime_ns
    except OSError:
        log.warning("MODEL_CONFIG_FILE %s not found: the model catalogue is empty", path)
        return ()
    return _read_names(path, modified)


@functools.lru_cache(maxsize=4)
def _read_names(path: Path, modified: int) -> tuple[str, ...]:
    config = model_server_config_pb2.ModelServerConfig()
    try:
        text_format.Parse(path.read_text(encoding="utf-8"), config)
    except (OSError, text_format.ParseError) as error:
        log.error("MODEL_CONFIG_FILE %s cannot be read: %s", path, error)
        return ()
    return tuple(model.name for model in config.model_config_list.config)
