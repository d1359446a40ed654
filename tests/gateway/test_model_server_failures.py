"""The model server down, back, or too slow: 503 fast, recovery by itself, 504 at the deadline."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from predictions.models import ModelGrant
from tests.support.processes import ROOT, ModelServerProcess, free_port, model_server

pytestmark = pytest.mark.django_db

HALF_PLUS_TWO = [
    "--model_name=half_plus_two",
    f"--model_base_path={ROOT / 'models' / 'half_plus_two'}",
]


def predict(client: APIClient, model: str, body: object):
    return client.post(f"/v1/models/{model}:predict", body, format="json")


def test_model_server_down_is_503_within_a_second_and_recovers_without_restart(
    alice_client: APIClient, settings
) -> None:
    port = free_port()
    settings.TFSERVING_ADDRESS = f"127.0.0.1:{port}"
    with model_server(args=HALF_PLUS_TWO, port=port):
        assert predict(alice_client, "half_plus_two", {"instances": [1.0]}).status_code == 200

    started = time.monotonic()
    down = predict(alice_client, "half_plus_two", {"instances": [1.0]})
    elapsed = time.monotonic() - started

    assert down.status_code == 503
    assert down.json() == {
        "error": "The model server is unavailable; retry later",
        "code": "unavailable",
    }
    assert down["Retry-After"] == "1"
    assert elapsed < 1.0
    with model_server(args=HALF_PLUS_TWO, port=port):
        back = predict(alice_client, "half_plus_two", {"instances": [1.0]})
    assert back.status_code == 200
    assert back.json() == {"predictions": [3.5]}


def test_nothing_listening_at_the_address_is_503(alice_client: APIClient, settings) -> None:
    settings.TFSERVING_ADDRESS = f"127.0.0.1:{free_port()}"

    response = alice_client.get("/v1/models/half_plus_two/metadata")

    assert response.status_code == 503


@pytest.fixture(scope="session")
def slow_model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServerProcess]:
    """A model server with the test-only `slow` model, which waits as long as it is told."""
    output = tmp_path_factory.mktemp("slow-model")
    subprocess.run(
        [sys.executable, "models/export.py", "--only", "slow", "--output", str(output)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    args = ["--model_name=slow", f"--model_base_path={Path(output) / 'slow'}"]
    with model_server(args=args) as server:
        yield server


def test_model_slower_than_the_deadline_is_504_at_the_deadline(
    alice: User, alice_client: APIClient, settings, slow_model_server: ModelServerProcess
) -> None:
    ModelGrant.objects.create(user=alice, model_name="slow")
    settings.TFSERVING_ADDRESS = slow_model_server.address
    settings.TFSERVING_TIMEOUT_SECONDS = 0.5
    assert predict(alice_client, "slow", {"instances": [0.0]}).status_code == 200

    started = time.monotonic()
    response = predict(alice_client, "slow", {"instances": [1.5]})
    elapsed = time.monotonic() - started

    assert response.status_code == 504
    assert response.json() == {
        "error": "The model server did not answer before the deadline",
        "code": "deadline_exceeded",
    }
    assert 0.5 <= elapsed < 1.5


def test_model_within_the_deadline_answers(
    alice: User, alice_client: APIClient, settings, slow_model_server: ModelServerProcess
) -> None:
    ModelGrant.objects.create(user=alice, model_name="slow")
    settings.TFSERVING_ADDRESS = slow_model_server.address

    response = predict(alice_client, "slow", {"instances": [0.2]})

    assert response.status_code == 200
    [waited] = response.json()["predictions"]
    assert waited >= 0.2
