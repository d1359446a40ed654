"""The model catalogue: model names from the model server's model_config_list file.

The gateway reads the same ``models.config`` the model server (or TF Serving) is
started with, so GET /v1/models and /readyz know which models should be served.
It is re-read when the file changes.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from django.conf import settings
from google.protobuf import text_format

from predictions.tfserving.protos import model_server_config_pb2

log = logging.getLogger(__name__)


def catalogue_model_names() -> tuple[str, ...]:
    """Names in MODEL_CONFIG_FILE, in file order; empty if the file is missing or invalid."""
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
