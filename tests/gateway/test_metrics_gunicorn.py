"""Metrics under gunicorn: /metrics sums every worker, also after a worker dies; and
gunicorn's own log lines are JSON with the request id when LOG_FORMAT=json."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.support.gateway import DEMO_PASSWORD, Gateway, gunicorn_gateway
from tests.support.processes import ModelServerProcess

pytestmark = pytest.mark.slow

PREDICTIONS = {"model": "half_plus_two", "version": "2", "method": "predict", "status": "200"}
BATCH = 120


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, modelserver_process: ModelServerProcess
) -> Iterator[Gateway]:
    directory = tmp_path_factory.mktemp("metrics-gateway")
    with gunicorn_gateway(
        directory,
        modelserver_process.address,
        GUNICORN_WORKERS="2",
        PROMETHEUS_MULTIPROC_DIR=str(directory / "metrics"),
        LOG_FORMAT="json",
        LOG_LEVEL="info",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def headers(gateway: Gateway) -> dict[str, str]:
    token = httpx.post(
        f"{gateway.url}/v1/auth/token", data={"username": "demo", "password": DEMO_PASSWORD}
    )
    return {"Authorization": f"Bearer {token.json()['access']}"}


def scrape(gateway: Gateway) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics by (name, sorted labels)."""
    response = httpx.get(f"{gateway.url}/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def predict_concurrently(gateway: Gateway, headers: dict[str, str], count: int) -> None:
    def one(index: int) -> int:
        # A new connection each time, so the kernel hands them to either worker.
        return httpx.post(
            f"{gateway.url}/v1/models/half_plus_two:predict",
            json={"instances": [1.0]},
            headers={**headers, "X-Request-ID": f"metrics-{index}"},
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(count))) == {200}


def predictions_per_worker(gateway: Gateway) -> dict[int, float]:
    """The predictions counter in each live worker's own file."""
    directory = Path(gateway.env["PROMETHEUS_MULTIPROC_DIR"])
    counts = {}
    for pid in gateway.worker_pids():
        path = directory / f"counter_{pid}.db"
        if not path.exists():
            counts[pid] = 0.0
            continue
        [family] = [
            m for m in MultiProcessCollector.merge([str(path)]) if m.name == "gateway_requests"
        ]
        counts[pid] = sum(
            s.value for s in family.samples if s.name.endswith("_total") and s.labels == PREDICTIONS
        )
    return counts


def test_metrics_sum_the_requests_of_every_worker(gateway: Gateway, headers: dict) -> None:
    before = scrape(gateway)
    sent = 0
    for _ in range(5):  # until both workers have answered some
        predict_concurrently(gateway, headers, BATCH)
        sent += BATCH
        if all(predictions_per_worker(gateway).values()):
            break
    scrapes = [scrape(gateway) for _ in range(6)]  # answered by either worker

    per_worker = predictions_per_worker(gateway)
    assert len(per_worker) == 2 and all(per_worker.values()), per_worker
    for after in scrapes:
        assert (
            value(after, "gateway_requests_total", **PREDICTIONS)
            - value(before, "gateway_requests_total", **PREDICTIONS)
            == sent
        )
        assert (
            value(
                after,
                "gateway_request_duration_seconds_count",
                model="half_plus_two",
                method="predict",
            )
            - value(
                before,
                "gateway_request_duration_seconds_count",
                model="half_plus_two",
                method="predict",
            )
            == sent
        )
        assert value(after, "gateway_requests_in_flight") == 0
    print(f"\npredictions per worker: {per_worker}")


def test_a_dead_workers_counts_stay_in_the_sums(gateway: Gateway, headers: dict) -> None:
    predict_concurrently(gateway, headers, 20)
    before = value(scrape(gateway), "gateway_requests_total", **PREDICTIONS)
    victim = max(predictions_per_worker(gateway).items(), key=lambda item: item[1])[0]
    metrics_dir = Path(gateway.env["PROMETHEUS_MULTIPROC_DIR"])
    assert (metrics_dir / f"gauge_livesum_{victim}.db").exists()

    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while victim in gateway.worker_pids() or len(gateway.worker_pids()) < 2:
        assert time.monotonic() < deadline, "gunicorn did not replace the worker"
        time.sleep(0.1)
    predict_concurrently(gateway, headers, 10)
    after = scrape(gateway)

    assert value(after, "gateway_requests_total", **PREDICTIONS) == before + 10
    assert value(after, "gateway_requests_in_flight") == 0
    assert not (metrics_dir / f"gauge_livesum_{victim}.db").exists()  # child_exit's work
    assert (metrics_dir / f"counter_{victim}.db").exists()


def test_gunicorn_writes_json_lines_with_the_request_id(gateway: Gateway, headers: dict) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/models/half_plus_two:predict",
        json={"instances": [1.0]},
        headers={**headers, "X-Request-ID": "json-log-check"},
    )
    time.sleep(0.5)

    lines = [orjson.loads(line) for line in gateway.log.read_text().splitlines() if line]
    [access] = [line for line in lines if line["request_id"] == response.headers["X-Request-ID"]]
    assert access["client_request_id"] == "json-log-check"
    loggers = {line["logger"] for line in lines}

    assert {"gunicorn.error", "gunicorn.access"} <= loggers
    assert (access["logger"], access["method"], access["status"]) == (
        "gunicorn.access",
        "POST",
        "200",
    )
    assert access["path"] == "/v1/models/half_plus_two:predict"
