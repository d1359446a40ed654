"""docker-compose.yml, run for real: built images, health checks, a prediction, faults.

The stack is docker-compose.yml with deploy/compose.local.yml, which only swaps in the
images deploy/local-images.sh builds on this machine (stand-ins for the registry
images, the gateway and proxy from their real Dockerfiles). It runs once per module
under a throwaway project name and .env, published on loopback only, and is removed
with its volumes afterwards. Skipped where Docker cannot run. `make test-compose`.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import time
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
import yaml

from tests.support.compose import (
    ComposeStack,
    DockerUnavailable,
    build_local_images,
    compose_project,
)
from tests.support.processes import ROOT
from tests.support.slow_clients import slow_clients

pytestmark = [pytest.mark.slow, pytest.mark.compose]

HEALTH_CHECKED = ("proxy", "gateway", "tfserving", "postgres", "redis")
DEMO_PASSWORD = "compose-test-password"
ARTIFACTS = ROOT / "test-artifacts"
ROW = {"instances": [1.0, 2.0, 5.0]}
# Timings of this run, written to test-artifacts/compose-stack-timings.json.
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def stack() -> Iterator[ComposeStack]:
    start = time.monotonic()
    try:
        build_local_images()
    except DockerUnavailable as error:
        pytest.skip(f"docker-compose stack not run: {error}")
    TIMINGS["local_images_seconds"] = round(time.monotonic() - start, 1)
    with compose_project() as running:
        start = time.monotonic()
        try:
            running.compose("up", "-d", "--no-build")
            TIMINGS["compose_up_seconds"] = round(time.monotonic() - start, 1)
            assert running.wait_for_http("/readyz", timeout=120).status_code == 200
            TIMINGS["ready_through_proxy_seconds"] = round(time.monotonic() - start, 1)
            running.wait_until_healthy(HEALTH_CHECKED)
            TIMINGS["all_healthy_seconds"] = round(time.monotonic() - start, 1)
            yield running
        finally:
            ARTIFACTS.mkdir(exist_ok=True)
            logs = running.compose("logs", "--no-color", "--timestamps")
            (ARTIFACTS / "compose-stack.log").write_text(logs)
    assert running.resources() == {"containers": [], "networks": [], "volumes": []}
    (ARTIFACTS / "compose-stack-timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")


@pytest.fixture(scope="module")
def token(stack: ComposeStack) -> str:
    demo_user = ("python", "manage.py", "create_demo_user")
    stack.compose("exec", "-T", "-e", f"DEMO_PASSWORD={DEMO_PASSWORD}", "gateway", *demo_user)
    response = httpx.post(
        f"{stack.url}/v1/auth/token", data={"username": "demo", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return response.json()["access"]


def predict(stack: ComposeStack, token: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(
        f"{stack.url}/v1/models/{path}:predict",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_every_long_running_service_turns_healthy(stack: ComposeStack) -> None:
    assert {service: stack.health(service) for service in HEALTH_CHECKED} == dict.fromkeys(
        HEALTH_CHECKED, "healthy"
    )


def docker_time(timestamp: str) -> datetime:
    """Docker's RFC 3339 times have up to 9 fractional digits, trailing zeros dropped."""
    seconds, _, fraction = timestamp.removesuffix("Z").partition(".")
    return datetime.fromisoformat(f"{seconds}.{fraction[:6].ljust(6, '0')}+00:00")


def test_migrations_run_to_completion_before_the_gateway_starts(stack: ComposeStack) -> None:
    migrate, gateway = stack.inspect("migrate")["State"], stack.inspect("gateway")["State"]

    assert (migrate["Status"], migrate["ExitCode"]) == ("exited", 0)
    assert docker_time(migrate["FinishedAt"]) < docker_time(gateway["StartedAt"])


def test_tfserving_passes_the_health_check_of_docker_compose_yml(stack: ComposeStack) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    running = stack.inspect("tfserving")["Config"]

    assert running["Healthcheck"]["Test"] == compose["services"]["tfserving"]["healthcheck"]["test"]
    assert stack.health("tfserving") == "healthy"


def test_only_the_proxy_is_published_and_only_on_loopback(stack: ComposeStack) -> None:
    published = {
        service: stack.inspect(service)["HostConfig"]["PortBindings"]
        for service in HEALTH_CHECKED
        if stack.inspect(service)["HostConfig"]["PortBindings"]
    }

    assert published == {
        "proxy": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(stack.port)}]}
    }


@pytest.mark.parametrize(
    ("service", "uid"), [("proxy", "10002"), ("gateway", "10001"), ("tfserving", "65534")]
)
def test_our_containers_run_as_their_non_root_user(
    stack: ComposeStack, service: str, uid: str
) -> None:
    assert stack.compose("exec", "-T", service, "id", "-u").strip() == uid


def test_predict_row_format_through_proxy_and_gateway(stack: ComposeStack, token: str) -> None:
    response = predict(stack, token, "half_plus_two", ROW)

    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": [3.5, 4.0, 5.5]}


def test_predict_columnar_format(stack: ComposeStack, token: str) -> None:
    response = predict(stack, token, "half_plus_two", {"inputs": {"x": [1.0, 2.0, 5.0]}})

    assert response.json() == {"outputs": [3.5, 4.0, 5.5]}


def test_predict_on_a_label(stack: ComposeStack, token: str) -> None:
    response = predict(stack, token, "half_plus_two/labels/stable", ROW)

    assert response.json() == {"predictions": [2.5, 3.0, 4.5]}


def test_readyz_sees_database_cache_and_every_model(stack: ComposeStack) -> None:
    response = httpx.get(f"{stack.url}/readyz")

    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def half_plus_two_predictions_counted(stack: ComposeStack) -> float:
    response = httpx.get(
        f"{stack.url}/metrics",
        headers={"Authorization": f"Bearer {stack.settings['METRICS_TOKEN']}"},
    )
    assert response.status_code == 200, response.text
    pattern = re.compile(
        r'^gateway_requests_total\{(?=.*method="predict")(?=.*model="half_plus_two")'
        r'(?=.*status="200").*\} (\S+)$',
        re.MULTILINE,
    )
    return sum(float(value) for value in pattern.findall(response.text))


def test_metrics_count_a_prediction_for_the_scraper_token(stack: ComposeStack, token: str) -> None:
    before = half_plus_two_predictions_counted(stack)

    predict(stack, token, "half_plus_two", ROW)

    assert half_plus_two_predictions_counted(stack) == before + 1


def test_metrics_refuse_a_caller_without_the_token(stack: ComposeStack) -> None:
    response = httpx.get(f"{stack.url}/metrics")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_proxy_refuses_a_body_over_max_request_bytes_with_json_413(stack: ComposeStack) -> None:
    limit = int(stack.settings["MAX_REQUEST_BYTES"])
    response = httpx.post(
        f"{stack.url}/v1/models/half_plus_two:predict", content=b" " * (limit + 1), timeout=30
    )

    assert response.status_code == 413
    assert response.json() == {
        "error": "Request body is larger than the allowed maximum",
        "code": "payload_too_large",
    }


def log_records(stack: ComposeStack, service: str, containing: str) -> list[dict]:
    """The service's JSON log lines that contain ``containing``."""
    output = stack.compose("logs", "--no-color", service)
    # docker-compose prefixes each line with "<container>  | ".
    return [
        json.loads(line.split("| ", 1)[1]) for line in output.splitlines() if containing in line
    ]


def test_proxy_and_gateway_log_the_request_with_the_same_ids(stack: ComposeStack) -> None:
    client_request_id = f"compose-test-{os.getpid()}"

    response = httpx.get(f"{stack.url}/healthz", headers={"X-Request-ID": client_request_id})
    request_id = response.headers["X-Request-ID"]  # the gateway's own

    assert response.headers["X-Client-Request-ID"] == client_request_id
    for service, logger in (("proxy", "proxy.access"), ("gateway", "gunicorn.access")):
        [record] = log_records(stack, service, request_id)
        assert (record["logger"], record["client_request_id"]) == (logger, client_request_id)


def latencies(stack: ComposeStack, token: str, rounds: int = 5) -> dict[str, list[float]]:
    """Seconds taken by GET /healthz and by a predict, ``rounds`` of each."""
    measured: dict[str, list[float]] = {"healthz": [], "predict": []}
    with httpx.Client(timeout=30) as client:
        for _ in range(rounds):
            start = time.monotonic()
            assert client.get(f"{stack.url}/healthz").status_code == 200
            measured["healthz"].append(time.monotonic() - start)
            start = time.monotonic()
            response = client.post(
                f"{stack.url}/v1/models/half_plus_two:predict",
                json=ROW,
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 200
            measured["predict"].append(time.monotonic() - start)
    return measured


@pytest.mark.parametrize("slow_part", ["headers", "body"])
def test_twenty_slow_clients_delay_healthz_and_predict_by_less_than_a_second(
    stack: ComposeStack, token: str, slow_part: str
) -> None:
    # gunicorn alone has 16 threads (2 workers x 8): 20 slow clients would hold them all.
    before = latencies(stack, token)
    body_token = token if slow_part == "body" else None
    with slow_clients(("127.0.0.1", stack.port), 20, body_token=body_token) as clients:
        # Every client connected and trickling (nginx cuts slow headers after 10 s).
        deadline = time.monotonic() + 8
        while not clients.all_sending(at_least=2) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert clients.all_sending(at_least=2), clients.sent
        during = latencies(stack, token)
        assert not any(clients.disconnected)

    delays = {
        name: max(during[name]) - statistics.median(before[name]) for name in ("healthz", "predict")
    }
    TIMINGS.update({f"slow_{slow_part}_delay_{name}": round(d, 4) for name, d in delays.items()})
    assert delays["healthz"] < 1.0, delays
    assert delays["predict"] < 1.0, delays


def test_proxy_answers_502_json_while_the_gateway_is_down_then_recovers(
    stack: ComposeStack,
) -> None:
    stack.compose("stop", "gateway")
    try:
        # Past the proxy's DNS cache (2 s): until then it still tries the stopped
        # container's address, and answers 504 after its 2 s connect timeout.
        time.sleep(3)
        response = httpx.get(f"{stack.url}/healthz", timeout=10)
    finally:
        stack.compose("start", "gateway")

    assert response.status_code == 502
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {
        "error": "The gateway is unavailable; retry later",
        "code": "bad_gateway",
    }
    assert stack.wait_for_http("/healthz").status_code == 200


def test_predict_gets_503_while_the_model_server_restarts_then_recovers(
    stack: ComposeStack, token: str
) -> None:
    stack.compose("stop", "tfserving")
    try:
        start = time.monotonic()
        down = predict(stack, token, "half_plus_two", ROW)
        answered_down_in = time.monotonic() - start
    finally:
        stack.compose("start", "tfserving")
    restarted = time.monotonic()
    deadline = restarted + 120
    recovered = predict(stack, token, "half_plus_two", ROW)
    while recovered.status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
        recovered = predict(stack, token, "half_plus_two", ROW)
    TIMINGS["model_server_down_answer_seconds"] = round(answered_down_in, 2)
    TIMINGS["model_server_recovery_seconds"] = round(time.monotonic() - restarted, 1)

    assert (down.status_code, down.json()["code"]) == (503, "unavailable")
    assert down.headers["Retry-After"] == "1"
    assert answered_down_in < 5
    assert recovered.json() == {"predictions": [3.5, 4.0, 5.5]}
    stack.wait_until_healthy(("tfserving",))
