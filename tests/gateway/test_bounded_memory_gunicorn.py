"""Memory under the worst body the limits allow, through real gunicorn and a real model
server.

The worst predict body is the largest batch (MAX_BATCH_SIZE rows) of the longest strings
that fit in MAX_REQUEST_BYTES (set to 12 MiB here, the body of the probe in item 10), to
the demo sentiment model (one string input; its output returns each text lower-cased, so
the answer is as large as the question). It is sent CONCURRENCY at a time, ROUNDS times,
to two gthread workers. Resident memory is read from /proc: VmHWM (reset first) is the
peak during the rounds, VmRSS after each round shows whether memory is given back.

At the peak, a worker stays less than 400 MiB and the model server less than 600 MiB
above its idle size: the body budget (MAX_BODY_BYTES_IN_FLIGHT, one such body per worker
by default) admits one worst body per worker at a time and the others are retried after
503 overloaded; without it, all eight were worked on at once and the peaks were 520-670
MiB per worker and 740 MiB in the model server. The model server keeps less than 192
MiB more after the last round than after the first (its settled size moves by up to 80
MiB from round to round: 957, 1166, 1113, 1088 MiB in one run), and each worker keeps
less than 384 MiB above its idle size after the last round (a worker's share of the concurrent
requests differs from round to round, so its round-to-round figures move with that
share). Before the workers collected cycles and trimmed the heap after large requests
(serving_project/memory.py) they kept growing round after round (0.2 GB to 1.3 GB in 7
rounds); the model server used to keep 3.3 GB after one 0.5 MB body.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.gateway import DEMO_PASSWORD, Gateway, gunicorn_gateway
from tests.support.processes import ROOT, ModelServerProcess, model_server
from tfserving.batch_limits import DEFAULT_MAX_BATCH_SIZE

pytestmark = pytest.mark.slow

SENTIMENT = ROOT / "models" / "sentiment"
MAX_REQUEST_BYTES = 12 * 1024 * 1024
MIB = 1024 * 1024
CONCURRENCY = 8
ROUNDS = 4
WORKER_PEAK_BOUND = 400 * MIB  # a worker at its peak, against idle
SERVER_PEAK_BOUND = 600 * MIB  # the model server at its peak, against idle
KEPT_GROWTH_BOUND = 192 * MIB  # the model server, last round against the first
WORKER_KEPT_BOUND = 384 * MIB  # a worker, after the last round against idle


def memory(pid: int, field: str) -> int:
    """VmRSS or VmHWM of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def settled_rss(pid: int) -> int:
    """VmRSS once it stops falling: a worker returns freed memory just after it has sent
    the answer (gunicorn's post_request), so the client may read it a moment early."""
    rss = memory(pid, "VmRSS")
    for _ in range(25):
        time.sleep(0.2)
        rss, previous = memory(pid, "VmRSS"), rss
        if previous - rss < 4 * MIB:
            break
    return rss


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def worst_body() -> bytes:
    """DEFAULT_MAX_BATCH_SIZE strings of one-letter words (the most terms per byte), each as
    long as MAX_REQUEST_BYTES allows."""
    overhead = len(b'{"instances":[]}') + DEFAULT_MAX_BATCH_SIZE * 3  # quotes and commas
    length = (MAX_REQUEST_BYTES - overhead) // DEFAULT_MAX_BATCH_SIZE
    text = ("a " * length)[:length]
    body = {"instances": [text] * DEFAULT_MAX_BATCH_SIZE}
    return json.dumps(body, separators=(",", ":")).encode()


@pytest.fixture(scope="module")
def sentiment_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServerProcess]:
    if not (SENTIMENT / "1").is_dir():
        pytest.fail("the demo sentiment model is not exported (python models/export.py)")
    log = tmp_path_factory.mktemp("bounded") / "server.log"
    with model_server(
        args=["--model_name=sentiment", f"--model_base_path={SENTIMENT}"], log_path=log
    ) as process:
        yield process


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, sentiment_server: ModelServerProcess
) -> Iterator[Gateway]:
    directory = tmp_path_factory.mktemp("bounded-gateway")
    with gunicorn_gateway(
        directory,
        sentiment_server.address,
        GUNICORN_WORKERS="2",
        MAX_REQUEST_BYTES=str(MAX_REQUEST_BYTES),
        # The bulkhead wide open (every thread may call, all for one model), so that only
        # the body budget (MAX_BODY_BYTES_IN_FLIGHT, by default one such body per worker)
        # keeps the CONCURRENCY bodies from being in the workers and the model server at once.
        MODEL_SERVER_CONCURRENCY=str(CONCURRENCY),
        MODEL_SERVER_CONCURRENCY_PER_MODEL=str(CONCURRENCY),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def headers(gateway: Gateway) -> dict[str, str]:
    token = httpx.post(
        f"{gateway.url}/v1/auth/token", data={"username": "demo", "password": DEMO_PASSWORD}
    )
    return {"Authorization": f"Bearer {token.json()['access']}", "Content-Type": "application/json"}


def predict(gateway: Gateway, headers: dict[str, str], body: bytes) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/models/sentiment:predict", content=body, headers=headers, timeout=300
    )


def predict_until_served(gateway: Gateway, headers: dict[str, str], body: bytes) -> tuple[int, int]:
    """Send ``body`` as a well-behaved client does, again after Retry-After while the worker
    answers 503 overloaded; the final status and how many times it was refused."""
    for refusals in range(100):
        response = predict(gateway, headers, body)
        if response.status_code != 503 or response.json()["code"] != "overloaded":
            assert len(response.json()["predictions"]) == DEFAULT_MAX_BATCH_SIZE
            return response.status_code, refusals
        time.sleep(float(response.headers["Retry-After"]))
    raise AssertionError("refused 100 times")


def test_the_worst_body_is_as_large_as_the_limits_allow() -> None:
    body = worst_body()

    assert MAX_REQUEST_BYTES - 4096 < len(body) <= MAX_REQUEST_BYTES
    assert len(json.loads(body)["instances"]) == DEFAULT_MAX_BATCH_SIZE


def test_100000_short_strings_are_refused_before_the_model_server_sees_them(
    gateway: Gateway, headers: dict[str, str], sentiment_server: ModelServerProcess
) -> None:
    pid = sentiment_server.process.pid
    predict(gateway, headers, b'{"instances": ["warm up"]}')
    baseline = memory(pid, "VmRSS")
    reset_peak(pid)

    response = predict(gateway, headers, json.dumps({"instances": ["ok"] * 100_000}).encode())

    assert response.status_code == 400
    assert response.json()["error"].startswith(
        "Task size 100000 is larger than maximum input batch size 1000"
    )
    assert memory(pid, "VmHWM") - baseline < 16 * MIB


def test_the_worst_body_concurrently_and_repeatedly_keeps_memory_bounded(
    gateway: Gateway, headers: dict[str, str], sentiment_server: ModelServerProcess
) -> None:
    body = worst_body()
    server = sentiment_server.process.pid
    workers = gateway.worker_pids()
    pids = {"model server": server} | {f"worker {pid}": pid for pid in workers}
    predict(gateway, headers, b'{"instances": ["warm up"]}')
    before = {name: memory(pid, "VmRSS") for name, pid in pids.items()}
    for pid in pids.values():
        reset_peak(pid)

    after_rounds = []
    refused = 0
    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
        for _ in range(ROUNDS):
            answers = list(
                pool.map(lambda _: predict_until_served(gateway, headers, body), range(CONCURRENCY))
            )
            assert [status for status, _ in answers] == [200] * CONCURRENCY
            refused += sum(refusals for _, refusals in answers)
            after_rounds.append({name: settled_rss(pid) for name, pid in pids.items()})
    peaks = {name: memory(pid, "VmHWM") for name, pid in pids.items()}

    for name in pids:
        figures = ", ".join(f"{rss[name] / MIB:.0f}" for rss in after_rounds)
        print(
            f"{name}: RSS before {before[name] / MIB:.0f} MiB, after each round {figures} MiB, "
            f"peak {peaks[name] / MIB:.0f} MiB"
        )
    print(f"{ROUNDS * CONCURRENCY} bodies served, {refused} refusals retried")
    assert peaks["model server"] - before["model server"] < SERVER_PEAK_BOUND
    for name in pids.keys() - {"model server"}:
        assert peaks[name] - before[name] < WORKER_PEAK_BOUND, name
    kept = after_rounds[-1]["model server"] - after_rounds[0]["model server"]
    assert kept < KEPT_GROWTH_BOUND
    for name in pids.keys() - {"model server"}:
        assert after_rounds[-1][name] - before[name] < WORKER_KEPT_BOUND, name
