"""Fixtures of the ported TF Serving test cases: its RunServer, over our test models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tfserving_suite.servers import ModelServers


@pytest.fixture(scope="session")
def model_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServers]:
    servers = ModelServers(tmp_path_factory.mktemp("tfserving_suite"))
    yield servers
    servers.close()
