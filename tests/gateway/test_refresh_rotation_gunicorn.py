"""8 parallel refreshes of one refresh token through gunicorn (2 workers x 8 threads): exactly
one wins, the rest are reuses that revoke the login, on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.gateway.production_stack import throwaway_postgres_database
from tests.support.gateway import DEMO_PASSWORD, gunicorn_gateway

pytestmark = pytest.mark.slow

PARALLEL = 8
# /healthz and the token views never call the model server.
NO_MODEL_SERVER = "127.0.0.1:9"


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@contextlib.contextmanager
def database_url(kind: str, directory: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'gateway.sqlite3'}"
    else:
        with throwaway_postgres_database() as url:
            yield url


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_parallel_refreshes_of_one_token_let_exactly_one_win_and_revoke_the_login(
    database: str, tmp_path: Path
) -> None:
    with (
        database_url(database, tmp_path) as url,
        gunicorn_gateway(
            tmp_path, NO_MODEL_SERVER, DATABASE_URL=url, GUNICORN_WORKERS="2", GUNICORN_THREADS="8"
        ) as gateway,
    ):
        status, tokens = post(
            f"{gateway.url}/v1/auth/token", {"username": "demo", "password": DEMO_PASSWORD}
        )
        assert status == 200
        start = threading.Barrier(PARALLEL)

        def refresh(_: int) -> tuple[int, dict]:
            start.wait()
            return post(f"{gateway.url}/v1/auth/token/refresh", {"refresh": tokens["refresh"]})

        with ThreadPoolExecutor(PARALLEL) as pool:
            results = list(pool.map(refresh, range(PARALLEL)))
        winners = [body for status, body in results if status == 200]
        after = post(f"{gateway.url}/v1/auth/token/refresh", {"refresh": winners[0]["refresh"]})

    assert Counter(status for status, _ in results) == {200: 1, 401: PARALLEL - 1}
    assert {body.get("code") for status, body in results if status == 401} == {"token_reused"}
    # The reuses revoked the whole family, the winner's new refresh token with it.
    assert after[0] == 401
