"""Password guessing through gunicorn with two workers: the lockout holds (attempts live in
the database), and a forged X-Forwarded-For does not help when no proxy is trusted."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.gateway import DEMO_PASSWORD, gunicorn_gateway

pytestmark = pytest.mark.slow

LIMIT = 5
NO_MODEL_SERVER = "127.0.0.1:9"  # the token view never calls the model server


def obtain(url: str, password: str, forwarded_for: str) -> tuple[int, dict, str | None]:
    request = urllib.request.Request(
        f"{url}/v1/auth/token",
        json.dumps({"username": "demo", "password": password}).encode(),
        # A new connection per request, so the kernel spreads them over both workers.
        {
            "Content-Type": "application/json",
            "X-Forwarded-For": forwarded_for,
            "Connection": "close",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read()), None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers.get("Retry-After")


def test_lockout_holds_across_workers_and_ignores_forged_forwarded_addresses(
    tmp_path: Path,
) -> None:
    with gunicorn_gateway(
        tmp_path,
        NO_MODEL_SERVER,
        GUNICORN_WORKERS="2",
        LOGIN_FAILURE_LIMIT=str(LIMIT),
        LOGIN_LOCKOUT_SECONDS="600",
        THROTTLE_TOKEN_RATE="",
    ) as gateway:
        guesses = [obtain(gateway.url, "guess", f"10.0.0.{n}")[0] for n in range(3 * LIMIT)]
        status, body, retry_after = obtain(gateway.url, DEMO_PASSWORD, "10.0.0.99")

    assert guesses == [401] * (LIMIT - 1) + [429] * (2 * LIMIT + 1)
    assert status == 429
    assert body["code"] == "throttled"
    assert retry_after == "600"
