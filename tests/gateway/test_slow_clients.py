"""Twenty slow clients starve neither /healthz nor predictions, behind the buffering proxy.

gunicorn's gthread workers give a connection a thread from its first byte and read the
request synchronously: 20 clients sending a byte every second or two hold all 16
threads (2 workers x 8), and everyone else waits. The stack ``make run`` starts
(runstack) and the production proxy config (deploy/proxy/ run by real nginx in front
of real gunicorn) put nginx in front, which reads whole requests first in its event
loop. Each request made meanwhile must be answered within 1 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.front_proxy import NGINX, production_proxy, runstack
from tests.support.gateway import DEMO_PASSWORD
from tests.support.processes import ModelServerProcess
from tests.support.slow_clients import slow_clients

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NGINX is None, reason="needs nginx (apt-get install nginx-light)"),
]

SLOW_CLIENTS = 20
BOUND_SECONDS = 1.0
ROW = {"instances": [1.0, 2.0, 5.0]}


@pytest.fixture(scope="module", params=["runstack", "production proxy"])
def front_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    modelserver_process: ModelServerProcess,
) -> Iterator[str]:
    directory = tmp_path_factory.mktemp(request.param.replace(" ", "-"))
    if request.param == "runstack":
        stack = runstack(directory)
    else:
        stack = production_proxy(directory, modelserver_process.address)
    with stack as url:
        yield url


def access_token(url: str) -> str:
    response = httpx.post(
        f"{url}/v1/auth/token", data={"username": "demo", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return response.json()["access"]


def answered_meanwhile(url: str, token: str, rounds: int = 5) -> dict[str, list[float]]:
    """Seconds each GET /healthz and each predict took; every answer checked exactly."""
    taken: dict[str, list[float]] = {"healthz": [], "predict": []}
    with httpx.Client(timeout=30) as client:
        for _ in range(rounds):
            start = time.monotonic()
            health = client.get(f"{url}/healthz")
            taken["healthz"].append(time.monotonic() - start)
            start = time.monotonic()
            prediction = client.post(
                f"{url}/v1/models/half_plus_two/versions/1:predict",
                json=ROW,
                headers={"Authorization": f"Bearer {token}"},
            )
            taken["predict"].append(time.monotonic() - start)
            assert (health.status_code, health.json()) == (200, {"status": "ok"})
            assert (prediction.status_code, prediction.json()) == (
                200,
                {"predictions": [2.5, 3.0, 4.5]},
            )
    return taken


@pytest.mark.parametrize("slow_part", ["headers", "body"])
def test_twenty_slow_clients_leave_healthz_and_predict_answered_within_a_second(
    front_url: str, slow_part: str
) -> None:
    token = access_token(front_url)
    port = int(front_url.rpartition(":")[2])
    body_token = token if slow_part == "body" else None

    with slow_clients(("127.0.0.1", port), SLOW_CLIENTS, body_token=body_token) as clients:
        # Every client connected and trickling before we measure (nginx would cut a
        # slow header off after its 10 s client_header_timeout).
        deadline = time.monotonic() + 8
        while not clients.all_sending(at_least=2) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert clients.all_sending(at_least=2), clients.sent
        taken = answered_meanwhile(front_url, token)
        assert not any(clients.disconnected)

    slowest = {name: round(max(seconds), 3) for name, seconds in taken.items()}
    print(f"slowest answers with {SLOW_CLIENTS} slow {slow_part}: {slowest}")
    assert slowest["healthz"] < BOUND_SECONDS, slowest
    assert slowest["predict"] < BOUND_SECONDS, slowest
