"""Load and faults through the production stack: gunicorn (2 workers), PostgreSQL, Redis.

Thousands of authenticated predictions at concurrency 32 succeed with one audit
record each; the model server killed mid-load gives fast 503s and a failing
/readyz, and the gateway recovers by itself once it is back on the same port; a
worker killed mid-load loses no audit record of an answered request when records
are written synchronously, and only the last flush window's when they are not.
All on loopback, about a minute in all.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import psycopg
import pytest

from tests.gateway.http_load import Outcome, Request, background_load, percentile, run_load
from tests.gateway.production_stack import (
    BEHIND_TLS,
    GunicornGateway,
    flushed_redis_database,
    gunicorn_gateway,
    production_env,
    throwaway_postgres_database,
)
from tests.support.gateway import manage
from tests.support.processes import ModelServerProcess, free_port, model_server

pytestmark = pytest.mark.slow

CONCURRENCY = 32
STEADY_REQUESTS = 3_000
REDIS_DATABASE = 12  # flushed by the test: nothing else may use it
ANSWER = {"predictions": [3.5, 4.0, 5.5]}
UNAVAILABLE = {"error": "The model server is unavailable; retry later", "code": "unavailable"}
# While the model server is down its calls hold their bulkhead slots through the
# retries, so some callers of the one model are refused by the bulkhead instead: the
# same 503 and Retry-After, another message.
OVERLOADED = {
    "error": "Too many calls to model half_plus_two are in progress; retry later",
    "code": "overloaded",
}
# The async audit writer commits every AUDIT_FLUSH_SECONDS (0.1 s by default). A record
# older than that may still be waiting when the worker dies if the writer thread was
# not scheduled in time: with 32 request threads on two shared cores it has waited up
# to 0.56 s. The test proves the loss is bounded, not how fast this machine is, so the
# slack is wide; the figures measured are printed and recorded in the README.
FLUSH_SECONDS = 0.1
FLUSH_SLACK_SECONDS = 1.9


class RestartableModelServer:
    """The embedded model server on a fixed port, which a test may kill and start again."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log_dir = log_dir
        self._stack = contextlib.ExitStack()
        self._server: ModelServerProcess | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Returns once the server reports SERVING."""
        self._stack.close()
        self._server = self._stack.enter_context(
            model_server(port=self.port, log_path=self.log_dir / f"modelserver-{time.time()}.log")
        )

    def kill(self) -> None:
        assert self._server is not None
        self._server.process.kill()
        self._server.process.wait()

    def close(self) -> None:
        self._stack.close()


@dataclass(frozen=True)
class Stack:
    database_url: str
    model_server: RestartableModelServer
    env: dict[str, str]
    predict: Request
    log_dir: Path

    @contextlib.contextmanager
    def gateway(self, **overrides: str) -> Iterator[GunicornGateway]:
        with gunicorn_gateway({**self.env, **overrides}, self.log_dir) as gateway:
            yield gateway

    def audit_records(self, prefix: str) -> Counter[str]:
        """Audit records per client request id, for those starting with ``prefix``."""
        with psycopg.connect(self.database_url) as connection:
            rows = connection.execute(
                "SELECT client_request_id, COUNT(*) FROM predictions_auditrecord"
                " WHERE client_request_id LIKE %s GROUP BY client_request_id",
                (f"{prefix}-%",),
            ).fetchall()
        return Counter(dict(rows))

    def settled_audit_records(self, prefix: str, timeout: float = 10.0) -> Counter[str]:
        """The records once the background writers have stopped adding any."""
        deadline = time.monotonic() + timeout
        previous = self.audit_records(prefix)
        while time.monotonic() < deadline:
            time.sleep(0.5)
            current = self.audit_records(prefix)
            if current == previous:
                return current
            previous = current
        raise TimeoutError(f"audit records for {prefix} still growing after {timeout} s")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp("fault-and-load")
    with (
        throwaway_postgres_database() as database_url,
        flushed_redis_database(REDIS_DATABASE) as redis_url,
        contextlib.closing(RestartableModelServer(log_dir)) as server,
    ):
        server.start()
        env = production_env(
            database_url,
            redis_url,
            server.address,
            GUNICORN_THREADS=str(CONCURRENCY // 2),
            # Unlimited: this test is about faults, not rates.
            THROTTLE_PREDICT_RATE="",
            THROTTLE_MODEL_RATE="",
        )
        manage(env, "migrate", "--noinput")
        manage(env, "create_demo_user")
        api_key = manage(env, "create_api_key", "demo", "load test").strip()
        predict = Request(
            "POST",
            "/v1/models/half_plus_two:predict",
            b'{"instances": [1.0, 2.0, 5.0]}',
            {"X-API-Key": api_key, "Content-Type": "application/json", **BEHIND_TLS},
        )
        yield Stack(database_url, server, env, predict, log_dir)


def statuses(outcomes: list[Outcome]) -> Counter[int | None]:
    return Counter(outcome.status for outcome in outcomes)


def readiness_status(gateway: GunicornGateway) -> int:
    connection = http.client.HTTPConnection(*gateway.address.split(":"), timeout=5)
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().status
    finally:
        connection.close()


def wait_for_readiness(gateway: GunicornGateway, status: int, timeout: float) -> float:
    """When /readyz first answered ``status`` (time.monotonic())."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if readiness_status(gateway) == status:
            return time.monotonic()
        time.sleep(0.05)
    raise TimeoutError(f"/readyz did not answer {status} within {timeout} s")


def test_thousands_of_predictions_at_concurrency_32_all_succeed_with_one_audit_record_each(
    stack: Stack,
) -> None:
    with stack.gateway() as gateway:
        started = time.monotonic()
        outcomes = run_load(
            gateway.address,
            stack.predict,
            concurrency=CONCURRENCY,
            total=STEADY_REQUESTS,
            id_prefix="steady",
        )
        elapsed = time.monotonic() - started
        records = stack.settled_audit_records("steady")

    latencies = [outcome.seconds for outcome in outcomes]
    print(
        f"\n{STEADY_REQUESTS} predictions at concurrency {CONCURRENCY}: "
        f"{STEADY_REQUESTS / elapsed:.0f} req/s, p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:.1f} ms, {sum(records.values())} audit records"
    )
    assert statuses(outcomes) == {200: STEADY_REQUESTS}
    assert all(orjson.loads(outcome.body) == ANSWER for outcome in outcomes)
    assert records == Counter({outcome.request_id: 1 for outcome in outcomes})


def test_model_server_killed_mid_load_gives_fast_503s_and_recovers_without_restarts(
    stack: Stack,
) -> None:
    # A thread for every caller whichever worker its connection lands on: the kernel
    # spreads the 32 connections unevenly over the two workers, and a request queued
    # behind another's retries would time gunicorn's queue, not the gateway's answer.
    with (
        stack.gateway(GUNICORN_THREADS=str(CONCURRENCY)) as gateway,
        background_load(
            gateway.address, stack.predict, concurrency=CONCURRENCY, id_prefix="fault"
        ) as load,
    ):
        workers_before = gateway.worker_pids()
        time.sleep(1.0)
        killed_at = time.monotonic()
        stack.model_server.kill()
        unready_at = wait_for_readiness(gateway, 503, timeout=5)
        time.sleep(1.5)
        restarted_at = time.monotonic()
        stack.model_server.start()
        serving_at = time.monotonic()
        ready_again_at = wait_for_readiness(gateway, 200, timeout=10)
        time.sleep(2.0)
        outcomes = load.stop()
        records = stack.settled_audit_records("fault")
        workers_after = gateway.worker_pids()

    before = [outcome for outcome in outcomes if outcome.finished < killed_at]
    down = [o for o in outcomes if o.started > killed_at and o.finished < restarted_at]
    after = [outcome for outcome in outcomes if outcome.started > serving_at + 1.0]
    failures_since_restart = [
        outcome.finished - serving_at
        for outcome in outcomes
        if outcome.started > restarted_at and outcome.status != 200
    ]
    first_success = min(
        outcome.finished
        for outcome in outcomes
        if outcome.started > restarted_at and outcome.status == 200
    )
    down_latencies = [outcome.seconds for outcome in down]
    down_p95_ms = percentile(down_latencies, 0.95) * 1000
    last_failure = max(failures_since_restart, default=0.0)
    print(
        f"\nmodel server killed: {len(down)} requests answered 503 while it was down, "
        f"p95 {down_p95_ms:.0f} ms, max {max(down_latencies) * 1000:.0f} ms; "
        f"/readyz 503 after {(unready_at - killed_at) * 1000:.0f} ms; "
        f"restart took {serving_at - restarted_at:.1f} s; relative to SERVING: first success "
        f"{first_success - serving_at:+.2f} s, last failure {last_failure:+.2f} s, "
        f"/readyz 200 {ready_again_at - serving_at:+.2f} s; statuses {dict(statuses(outcomes))}"
    )
    assert statuses(before) == {200: len(before)}
    assert down and statuses(down) == {503: len(down)}
    assert {outcome.retry_after for outcome in down} == {"1"}
    bodies = [orjson.loads(outcome.body) for outcome in down]
    assert UNAVAILABLE in bodies
    assert all(body in (UNAVAILABLE, OVERLOADED) for body in bodies)
    assert percentile(down_latencies, 0.95) < 1.0
    assert after and statuses(after) == {200: len(after)}
    assert None not in statuses(outcomes)  # the gateway itself never failed to answer
    unexpected = [outcome for outcome in outcomes if outcome.status not in (200, 503)]
    assert not unexpected, (
        f"{len(unexpected)} answers neither 200 nor 503, from "
        f"{unexpected[0].started - serving_at:+.2f} s to {unexpected[-1].started - serving_at:+.2f}"
        f" s after SERVING, e.g. {unexpected[0].status} {unexpected[0].body!r}"
    )
    assert workers_after == workers_before  # nothing was restarted
    assert records == Counter({outcome.request_id: 1 for outcome in outcomes})


def kill_a_worker_mid_load(
    stack: Stack, gateway: GunicornGateway, prefix: str
) -> tuple[list[Outcome], float, Counter[str]]:
    """SIGKILL one worker during load; (outcomes, when it was killed, audit records)."""
    with background_load(
        gateway.address, stack.predict, concurrency=CONCURRENCY, id_prefix=prefix
    ) as load:
        time.sleep(1.5)
        victim = gateway.worker_pids()[0]
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        time.sleep(1.5)
        outcomes = load.stop()
    return outcomes, killed_at, stack.settled_audit_records(prefix)


def assert_gunicorn_replaced_the_worker_without_failures(
    outcomes: list[Outcome], killed_at: float
) -> None:
    """Only requests on the killed worker's connections at the time are cut off."""
    later = [outcome for outcome in outcomes if outcome.started > killed_at + 0.5]
    assert later and statuses(later) == {200: len(later)}


def test_worker_killed_mid_load_with_synchronous_audit_loses_no_answered_request(
    stack: Stack,
) -> None:
    with stack.gateway(AUDIT_SYNC="1") as gateway:
        outcomes, killed_at, records = kill_a_worker_mid_load(stack, gateway, "sync")

    answered = [outcome for outcome in outcomes if outcome.status is not None]
    print(
        f"\nworker killed, AUDIT_SYNC=1: {len(answered)} answered, "
        f"{len(outcomes) - len(answered)} cut off, {sum(records.values())} audit records"
    )
    assert statuses(answered) == {200: len(answered)}
    assert_gunicorn_replaced_the_worker_without_failures(outcomes, killed_at)
    assert all(records[outcome.request_id] == 1 for outcome in answered)
    assert set(records.values()) == {1}  # cut-off requests have at most one record


def test_worker_killed_mid_load_with_async_audit_loses_at_most_the_last_flush_window(
    stack: Stack,
) -> None:
    with stack.gateway(AUDIT_FLUSH_SECONDS=str(FLUSH_SECONDS)) as gateway:
        outcomes, killed_at, records = kill_a_worker_mid_load(stack, gateway, "async")

    answered = [outcome for outcome in outcomes if outcome.status is not None]
    lost = [outcome for outcome in answered if outcome.request_id not in records]
    oldest_lost = max((killed_at - outcome.finished for outcome in lost), default=0.0)
    print(
        f"\nworker killed, async audit: {len(answered)} answered, "
        f"{len(outcomes) - len(answered)} cut off, {len(lost)} answered without a record, "
        f"the oldest answered {oldest_lost * 1000:.0f} ms before the kill"
    )
    assert statuses(answered) == {200: len(answered)}
    assert_gunicorn_replaced_the_worker_without_failures(outcomes, killed_at)
    assert set(records.values()) == {1}
    assert oldest_lost < FLUSH_SECONDS + FLUSH_SLACK_SECONDS
