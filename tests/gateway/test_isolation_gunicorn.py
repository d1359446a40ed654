"""Isolation under real gunicorn: a model that hangs holds a bounded number of threads.

One worker with the default 8 threads: calls to the frozen model beyond its share of
model server slots are refused at once with 503 "overloaded" and Retry-After, while
/healthz and /readyz keep answering and another model keeps predicting. The model is
frozen by a gRPC proxy in front of the real model server (tests/support/freezing_proxy).
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.freezing_proxy import FreezingProxy, freezing_proxy
from tests.support.gateway import DEMO_PASSWORD, Gateway, gunicorn_gateway
from tests.support.processes import ModelServerProcess

pytestmark = pytest.mark.slow

THREADS = 8
PER_MODEL = 4  # the default MODEL_SERVER_CONCURRENCY_PER_MODEL: two thirds of THREADS - 2
CALLS = THREADS + 2  # more than the worker has threads: without a bound nothing is left
REFUSED = CALLS - PER_MODEL
PROBES = 20
IRIS_ROWS = [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]
OVERLOADED = {
    "error": "Too many calls to model iris are in progress; retry later",
    "code": "overloaded",
}


@pytest.fixture
def frozen_iris(modelserver_process: ModelServerProcess) -> Iterator[FreezingProxy]:
    with freezing_proxy(modelserver_process.address, "iris") as proxy:
        yield proxy


@pytest.fixture
def gateway(tmp_path: Path, frozen_iris: FreezingProxy) -> Iterator[Gateway]:
    with gunicorn_gateway(
        tmp_path,
        frozen_iris.address,
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS=str(THREADS),
        # The frozen calls must still hang when the test looks, not fail with 504.
        TFSERVING_TIMEOUT_SECONDS="120",
    ) as running:
        yield running


def bearer(gateway: Gateway) -> dict[str, str]:
    token = httpx.post(
        f"{gateway.url}/v1/auth/token", data={"username": "demo", "password": DEMO_PASSWORD}
    )
    return {"Authorization": f"Bearer {token.json()['access']}"}


def metric(gateway: Gateway, name: str, **labels: str) -> float:
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(httpx.get(f"{gateway.url}/metrics").text)
        for sample in family.samples
    }
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def overloaded_audit_records(gateway: Gateway, expected: int) -> int:
    """Audit records with error_code "overloaded", once ``expected`` are written (or 10 s)."""
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(gateway.database) as connection:
            (count,) = connection.execute(
                "SELECT COUNT(*) FROM predictions_auditrecord"
                " WHERE error_code = 'overloaded' AND model_name = 'iris' AND http_status = 503"
            ).fetchone()
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.2)


def test_a_frozen_model_holds_only_its_slots_and_the_rest_keeps_answering(
    gateway: Gateway, frozen_iris: FreezingProxy
) -> None:
    headers = bearer(gateway)
    answers: queue.Queue[httpx.Response] = queue.Queue()

    def call_iris() -> None:
        answers.put(
            httpx.post(
                f"{gateway.url}/v1/models/iris:predict",
                json={"instances": IRIS_ROWS},
                headers=headers,
                timeout=180,
            )
        )

    callers = [threading.Thread(target=call_iris) for _ in range(CALLS)]
    for caller in callers:
        caller.start()

    # The calls beyond the model's slots are answered while the others hang.
    refused = [answers.get(timeout=30) for _ in range(REFUSED)]
    assert frozen_iris.wait_until_held(PER_MODEL, timeout=30) == PER_MODEL
    assert [(answer.status_code, answer.json()) for answer in refused] == [
        (503, OVERLOADED)
    ] * REFUSED
    assert {answer.headers["Retry-After"] for answer in refused} == {"1"}

    # Liveness and readiness answer within a second, every time.
    slowest = 0.0
    for _ in range(PROBES):
        started = time.perf_counter()
        assert httpx.get(f"{gateway.url}/healthz", timeout=1.0).status_code == 200
        slowest = max(slowest, time.perf_counter() - started)
    print(f"slowest of {PROBES} /healthz probes with {PER_MODEL} calls frozen: {slowest:.3f} s")
    assert httpx.get(f"{gateway.url}/readyz", timeout=2.0).status_code == 200

    # Another model still predicts.
    other = httpx.post(
        f"{gateway.url}/v1/models/half_plus_two:predict",
        json={"instances": [1.0, 2.0, 5.0]},
        headers=headers,
        timeout=10,
    )
    assert (other.status_code, other.json()) == (200, {"predictions": [3.5, 4.0, 5.5]})

    assert metric(gateway, "gateway_model_server_calls_in_flight") == PER_MODEL
    assert (
        metric(gateway, "gateway_model_server_calls_refused_total", model="iris", scope="model")
        == REFUSED
    )
    assert overloaded_audit_records(gateway, REFUSED) == REFUSED

    # Once the model answers again, the calls it held succeed.
    frozen_iris.release()
    for caller in callers:
        caller.join(timeout=60)
    held = [answers.get(timeout=1) for _ in range(PER_MODEL)]
    assert [answer.status_code for answer in held] == [200] * PER_MODEL
    assert [answer.json()["predictions"][0]["classes"] for answer in held] == ["setosa"] * PER_MODEL
