"""Payload logging through the production stack: gunicorn (2 workers), PostgreSQL, Redis.

1,000 predictions at sample rate 0.1 log about 100 exchanges, each linked to its audit
record, in the database, the JSON Lines file and as CloudEvents; a CloudEvents receiver
that refuses connections or answers too slowly leaves every prediction as it was and
its drops are counted in /metrics.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import psycopg
import pytest

from tests.gateway.production_stack import (
    BEHIND_TLS,
    GunicornGateway,
    flushed_redis_database,
    gunicorn_gateway,
    production_env,
    throwaway_postgres_database,
)
from tests.support.cloudevents_receiver import CloudEventsReceiver, cloudevents_receiver
from tests.support.gateway import manage
from tests.support.processes import ModelServerProcess, free_port

pytestmark = pytest.mark.slow

REDIS_DATABASE = 14  # flushed by the test: nothing else may use it
STAFF_PASSWORD = "payload-staff-password-3c1d"
METRICS_TOKEN = "payload-metrics-token"
PREDICT = "/v1/models/half_plus_two:predict"
PREDICTIONS = 1_000


@dataclass(frozen=True)
class Stack:
    env: dict[str, str]
    database_url: str
    api_key: str
    log_dir: Path

    def rows(self, sql: str, *params: object) -> list[tuple]:
        with psycopg.connect(self.database_url) as connection:
            return connection.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, modelserver_process: ModelServerProcess
) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp("payload-logging")
    with (
        throwaway_postgres_database() as database_url,
        flushed_redis_database(REDIS_DATABASE) as redis_url,
    ):
        env = production_env(
            database_url,
            redis_url,
            modelserver_process.address,
            THROTTLE_PREDICT_RATE="",
            THROTTLE_MODEL_RATE="",
            METRICS_TOKEN=METRICS_TOKEN,
            PAYLOAD_POLICY_CACHE_SECONDS="0.2",
            PAYLOAD_FLUSH_SECONDS="0.05",
        )
        manage(env, "migrate", "--noinput")
        manage(env, "create_demo_user")
        manage(
            {**env, "DJANGO_SUPERUSER_PASSWORD": STAFF_PASSWORD},
            "createsuperuser",
            "--noinput",
            "--username=operator",
            "--email=operator@example.com",
        )
        api_key = manage(env, "create_api_key", "demo", "payload test").strip()
        yield Stack(env, database_url, api_key, log_dir)


class Client:
    def __init__(self, gateway: GunicornGateway, headers: dict[str, str]) -> None:
        host, port = gateway.address.split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=30)
        self.headers = {**BEHIND_TLS, "Content-Type": "application/json", **headers}

    def call(
        self, method: str, path: str, body: object = None, **headers: str
    ) -> tuple[int, bytes]:
        data = None if body is None else orjson.dumps(body)
        self.connection.request(method, path, data, {**self.headers, **headers})
        response = self.connection.getresponse()
        return response.status, response.read()


def staff_client(gateway: GunicornGateway) -> Client:
    login = Client(gateway, {})
    status, body = login.call(
        "POST", "/v1/auth/token", {"username": "operator", "password": STAFF_PASSWORD}
    )
    assert status == 200, body
    return Client(gateway, {"Authorization": f"Bearer {orjson.loads(body)['access']}"})


def settled(read: Callable[[], int], timeout: float = 20.0) -> int:
    """``read()`` once it has stopped growing (the background writers are done)."""
    deadline = time.monotonic() + timeout
    previous = read()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        current = read()
        if current == previous:
            return current
        previous = current
    raise TimeoutError(f"still growing after {timeout} s")


@contextlib.contextmanager
def gateway_with(stack: Stack, **overrides: str) -> Iterator[GunicornGateway]:
    with gunicorn_gateway({**stack.env, **overrides}, stack.log_dir) as gateway:
        yield gateway


def test_a_thousand_predictions_at_rate_one_tenth_log_about_a_hundred_linked_exchanges(
    stack: Stack, tmp_path: Path
) -> None:
    log_file = tmp_path / "payloads.jsonl"
    with (
        cloudevents_receiver() as receiver,
        gateway_with(
            stack, PAYLOAD_LOG_FILE=str(log_file), PAYLOAD_CLOUDEVENTS_URL=receiver.url
        ) as gateway,
    ):
        status, body = staff_client(gateway).call(
            "PUT",
            "/v1/models/half_plus_two/logging",
            {"sample_rate": 0.1, "sinks": ["database", "file", "cloudevents"]},
        )
        assert status == 200, body
        time.sleep(0.3)  # every worker's policy snapshot has expired
        client = Client(gateway, {"X-API-Key": stack.api_key})
        answers = [
            client.call("POST", PREDICT, {"instances": [1.0]}, **{"X-Request-ID": f"rate-{i}"})
            for i in range(PREDICTIONS)
        ]

        logged = settled(
            lambda: stack.rows(
                "SELECT COUNT(*) FROM predictions_payloadlog WHERE client_request_id LIKE 'rate-%%'"
            )[0][0]
        )
        events = receiver.wait_for(2 * logged)

    assert {answer for answer in answers} == {(200, b'{"predictions":[3.5]}')}
    assert 70 <= logged <= 130
    unlinked = stack.rows(
        "SELECT p.request_id FROM predictions_payloadlog p LEFT JOIN predictions_auditrecord a"
        " ON a.request_id = p.request_id AND a.method = 'predict'"
        " WHERE p.client_request_id LIKE 'rate-%%' AND a.id IS NULL"
    )
    assert unlinked == []
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    logged_ids = {row[0] for row in stack.rows("SELECT request_id FROM predictions_payloadlog")}
    assert {line["request_id"] for line in lines} == logged_ids
    assert {e.headers["ce-id"] for e in events} == logged_ids
    assert {e.headers["ce-type"] for e in events} == {
        "org.kubeflow.serving.inference.request",
        "org.kubeflow.serving.inference.response",
    }


def dropped_in_metrics(client: Client, sink: str, reason: str) -> float:
    status, body = client.call("GET", "/metrics", Authorization=f"Bearer {METRICS_TOKEN}")
    assert status == 200
    return sum(
        float(line.split()[-1])
        for line in body.decode().splitlines()
        if line.startswith("gateway_payload_log_dropped_total{")
        and f'sink="{sink}"' in line
        and f'reason="{reason}"' in line
    )


@pytest.mark.parametrize("failure", ["connection refused", "slow"])
def test_a_cloudevents_receiver_that_fails_leaves_predictions_alone_and_counts_drops(
    stack: Stack, failure: str
) -> None:
    with contextlib.ExitStack() as stack_of_things:
        if failure == "slow":
            receiver: CloudEventsReceiver = stack_of_things.enter_context(
                cloudevents_receiver(delay_seconds=1.0)
            )
            url = receiver.url
        else:
            url = f"http://127.0.0.1:{free_port()}/"
        gateway = stack_of_things.enter_context(
            gateway_with(
                stack,
                PAYLOAD_CLOUDEVENTS_URL=url,
                PAYLOAD_CLOUDEVENTS_TIMEOUT_SECONDS="0.2",
                PAYLOAD_SINK_RETRIES="1",
            )
        )
        status, body = staff_client(gateway).call(
            "PUT",
            "/v1/models/iris/logging",
            {"sample_rate": 1.0, "sinks": ["database", "cloudevents"]},
        )
        assert status == 200, body
        time.sleep(0.3)
        client = Client(gateway, {"X-API-Key": stack.api_key})
        body = {
            "instances": [
                {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
            ]
        }
        prefix = f"down-{failure.split()[0]}"
        answers = [
            client.call(
                "POST", "/v1/models/iris:predict", body, **{"X-Request-ID": f"{prefix}-{i}"}
            )
            for i in range(20)
        ]

        in_database = settled(
            lambda: stack.rows(
                "SELECT COUNT(*) FROM predictions_payloadlog WHERE client_request_id LIKE %s",
                f"{prefix}-%",
            )[0][0]
        )
        deadline = time.monotonic() + 30
        while dropped_in_metrics(client, "cloudevents", "failed") < 20:
            assert time.monotonic() < deadline, "the drops were not counted"
            time.sleep(0.5)

    assert [status for status, _ in answers] == [200] * 20
    assert in_database == 20
