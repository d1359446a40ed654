from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import ModelServerProcess, model_server


@pytest.fixture(scope="session")
def modelserver_process() -> Iterator[ModelServerProcess]:
    """The embedded model server serving models/models.config, once per session."""
    with model_server() as server:
        yield server
