from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.processes import ModelServerProcess, model_server

# Reference values computed here with TensorFlow must come from the kernels the model
# server runs (it turns oneDNN off, as TF Serving's standard CPU build has it off).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


@pytest.fixture(scope="session")
def modelserver_process() -> Iterator[ModelServerProcess]:
    """The embedded model server serving models/models.config, once per session."""
    with model_server() as server:
        yield server
