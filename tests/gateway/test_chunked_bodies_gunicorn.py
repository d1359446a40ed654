"""Chunked request bodies (no Content-Length) under gunicorn: read, and held to the size limit."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import orjson
import pytest

from tests.gateway.production_stack import (
    BEHIND_TLS,
    GunicornGateway,
    gunicorn_gateway,
    production_env,
)
from tests.support.gateway import manage
from tests.support.processes import ModelServerProcess

pytestmark = pytest.mark.slow

MAX_REQUEST_BYTES = 10_000


@pytest.fixture(scope="module")
def gateway_and_key(
    tmp_path_factory: pytest.TempPathFactory, modelserver_process: ModelServerProcess
) -> Iterator[tuple[GunicornGateway, str]]:
    tmp_path = tmp_path_factory.mktemp("chunked")
    env = production_env(
        f"sqlite:///{tmp_path / 'gateway.sqlite3'}",
        "",
        modelserver_process.address,
        MAX_REQUEST_BYTES=str(MAX_REQUEST_BYTES),
    )
    manage(env, "migrate", "--noinput")
    manage(env, "create_demo_user")
    api_key = manage(env, "create_api_key", "demo", "chunked").strip()
    with gunicorn_gateway(env, tmp_path) as gateway:
        yield gateway, api_key


def post_chunked(gateway: GunicornGateway, api_key: str, chunks: list[bytes]) -> tuple[int, dict]:
    host, port = gateway.address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(
            "POST",
            "/v1/models/half_plus_two:predict",
            body=iter(chunks),
            headers={"X-API-Key": api_key, "Content-Type": "application/json", **BEHIND_TLS},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, orjson.loads(response.read())
    finally:
        connection.close()


def test_chunked_body_is_predicted(gateway_and_key: tuple[GunicornGateway, str]) -> None:
    status, body = post_chunked(*gateway_and_key, [b'{"instances": ', b"[1.0, 2.0, 5.0]}"])

    assert (status, body) == (200, {"predictions": [3.5, 4.0, 5.5]})


def test_chunked_body_over_the_limit_is_413(gateway_and_key: tuple[GunicornGateway, str]) -> None:
    chunks = [b'{"instances": [1.0'] + [b", 1.0" * 100] * 100 + [b"]}"]  # 50 KB

    status, body = post_chunked(*gateway_and_key, chunks)

    assert (status, body) == (
        413,
        {"error": "Request body is larger than the allowed maximum", "code": "payload_too_large"},
    )
