"""Rate limits hold across gunicorn workers when the counters live in Redis.

Each request goes over a new connection, so the kernel spreads them over both
workers (the access log shows which worker answered). With a limit of L and 3L
requests, one worker serves at least 1.5L of them: counters kept per worker would
let more than L through. Exactly L get through, and the rest get 429 with
Retry-After, whichever worker they reach.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.gateway.http_load import Outcome, Request, run_load
from tests.gateway.production_stack import (
    BEHIND_TLS,
    DEMO_PASSWORD,
    GunicornGateway,
    access_log_pids,
    flushed_redis_database,
    gunicorn_gateway,
    production_env,
)
from tests.support.gateway import manage
from tests.support.processes import ModelServerProcess

pytestmark = pytest.mark.slow

PREDICT_LIMIT = 20
TOKEN_LIMIT = 5
DAY_SECONDS = 86_400
# A database number of its own: flushed by the test, so nothing else may use it.
REDIS_DATABASE = 13


def wait_out_the_end_of_the_window(period_seconds: int, margin_seconds: float = 30.0) -> None:
    """Fixed windows restart at multiples of the period: do not let one restart mid-test."""
    left = period_seconds - time.time() % period_seconds
    if left < margin_seconds:
        time.sleep(left + 0.5)


@pytest.fixture
def throttled(
    tmp_path: Path, modelserver_process: ModelServerProcess
) -> Iterator[tuple[GunicornGateway, str]]:
    """Two workers sharing Redis, with per-caller and token limits; yields it and an API key."""
    with flushed_redis_database(REDIS_DATABASE) as redis_url:
        env = production_env(
            f"sqlite:///{tmp_path / 'gateway.sqlite3'}",
            redis_url,
            modelserver_process.address,
            THROTTLE_PREDICT_RATE=f"{PREDICT_LIMIT}/day",
            THROTTLE_TOKEN_RATE=f"{TOKEN_LIMIT}/day",
            LOGIN_FAILURE_LIMIT="100",  # the throttle, not the login lockout, is tested here
            GUNICORN_THREADS="4",
        )
        manage(env, "migrate", "--noinput")
        manage(env, "create_demo_user")
        api_key = manage(env, "create_api_key", "demo", "throttle test").strip()
        wait_out_the_end_of_the_window(DAY_SECONDS)
        with gunicorn_gateway(env, tmp_path) as gateway:
            yield gateway, api_key


def workers_that_answered(gateway: GunicornGateway, outcomes: list[Outcome]) -> set[int]:
    # gunicorn writes a request's access line after sending its answer: wait for all.
    deadline = time.monotonic() + 10
    while (
        not {outcome.request_id for outcome in outcomes}
        <= (served := access_log_pids(gateway)).keys()
    ):
        assert time.monotonic() < deadline, "requests missing from the access log"
        time.sleep(0.05)
    return {served[outcome.request_id][0] for outcome in outcomes}


def test_per_caller_limit_holds_across_two_workers(
    throttled: tuple[GunicornGateway, str],
) -> None:
    gateway, api_key = throttled
    request = Request(
        "POST",
        "/v1/models/half_plus_two:predict",
        b'{"instances": [1.0]}',
        {"X-API-Key": api_key, "Content-Type": "application/json", **BEHIND_TLS},
    )

    outcomes = run_load(
        gateway.address, request, concurrency=6, total=3 * PREDICT_LIMIT, keep_alive=False
    )

    statuses = Counter(outcome.status for outcome in outcomes)
    throttled_outcomes = [outcome for outcome in outcomes if outcome.status == 429]
    assert statuses == {200: PREDICT_LIMIT, 429: 2 * PREDICT_LIMIT}
    assert workers_that_answered(gateway, outcomes) == set(gateway.worker_pids())
    assert {orjson.loads(outcome.body)["code"] for outcome in throttled_outcomes} == {"throttled"}
    assert all(1 <= int(outcome.retry_after or 0) <= DAY_SECONDS for outcome in throttled_outcomes)


def test_token_endpoint_limit_against_password_guessing_holds_across_two_workers(
    throttled: tuple[GunicornGateway, str],
) -> None:
    gateway, _ = throttled
    guess = Request(
        "POST",
        "/v1/auth/token",
        orjson.dumps({"username": "demo", "password": "guess"}),
        {"Content-Type": "application/json", **BEHIND_TLS},
    )
    right = Request(
        "POST",
        "/v1/auth/token",
        orjson.dumps({"username": "demo", "password": DEMO_PASSWORD}),
        guess.headers,
    )

    guesses = run_load(
        gateway.address, guess, concurrency=3, total=3 * TOKEN_LIMIT, keep_alive=False
    )
    [after] = run_load(gateway.address, right, concurrency=1, total=1, id_prefix="right")

    assert Counter(outcome.status for outcome in guesses) == {
        401: TOKEN_LIMIT,
        429: 2 * TOKEN_LIMIT,
    }
    assert workers_that_answered(gateway, guesses) == set(gateway.worker_pids())
    assert all(outcome.retry_after for outcome in guesses if outcome.status == 429)
    # Even the right password is refused until the window ends.
    assert after.status == 429
    assert 1 <= int(after.retry_after or 0) <= DAY_SECONDS
