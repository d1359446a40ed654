"""schemathesis against the gateway's own OpenAPI schema, through real gunicorn and the
real model server: every documented operation, with generated and mutated inputs, with
the demo user's token and without one. No answer may be a 5xx or disagree with the
schema. Bounded: a fixed number of examples per operation and a time budget per run.

The demo user is no deployer, so the deployment routes answer their 404 and the model
repository is never written to.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.gateway import DEMO_PASSWORD, Gateway, gunicorn_gateway
from tests.support.processes import ModelServerProcess

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 25
SECONDS_PER_RUN = 75


@pytest.fixture(scope="module")
def fuzzed_gateway(
    tmp_path_factory: pytest.TempPathFactory, modelserver_process: ModelServerProcess
) -> Iterator[Gateway]:
    directory = tmp_path_factory.mktemp("fuzzed-gateway")
    with gunicorn_gateway(
        directory,
        modelserver_process.address,
        GUNICORN_WORKERS="2",
        LOG_LEVEL="warning",
        # Generated requests come fast from one address: keep the throttles and the
        # login lockout from answering most of them 429.
        THROTTLE_TOKEN_RATE="100000/min",
        LOGIN_FAILURE_LIMIT="100000",
    ) as gateway:
        yield gateway


def schemathesis(gateway: Gateway, report: Path, *headers: str) -> subprocess.CompletedProcess:
    header_args = [arg for header in headers for arg in ("--header", header)]
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{gateway.url}/v1/schema",
            "--url",
            gateway.url,
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--max-time",
            str(SECONDS_PER_RUN),
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "2",
            "--request-timeout",
            "20",
            "--seed",
            "1",
            "--generation-deterministic",
            "--suppress-health-check",
            "all",
            "--no-color",
            *header_args,
        ],
        capture_output=True,
        text=True,
        timeout=SECONDS_PER_RUN * 3,
        cwd=report.parent,
    )


def access_token(gateway: Gateway) -> str:
    answer = httpx.post(
        f"{gateway.url}/v1/auth/token", data={"username": "demo", "password": DEMO_PASSWORD}
    )
    answer.raise_for_status()
    return answer.json()["access"]


@pytest.mark.parametrize("credentials", ["token", "none"])
def test_no_generated_request_gets_a_5xx_or_an_answer_outside_the_schema(
    fuzzed_gateway: Gateway, tmp_path: Path, credentials: str
) -> None:
    headers = (
        [f"Authorization: Bearer {access_token(fuzzed_gateway)}"] if credentials == "token" else []
    )

    run = schemathesis(fuzzed_gateway, tmp_path / "report", *headers)

    summary = run.stdout[-6000:]
    print(summary)  # the operations, cases and checks run (shown with -s)
    assert run.returncode == 0, summary
    assert fuzzed_gateway.process.poll() is None
