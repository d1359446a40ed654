"""The Bulkhead: bounded model server calls per worker and per model, refused when full."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from predictions.inference.upstream import Bulkhead, Overloaded
from tests.support.processes import ROOT

# A refusal is counted under its model's name when the catalogue (the database) knows it.
pytestmark = pytest.mark.django_db


@contextlib.contextmanager
def held(bulkhead: Bulkhead, *models: str) -> Iterator[None]:
    """Other threads hold a slot for each of ``models`` until the block ends."""
    entered = threading.Barrier(len(models) + 1)
    release = threading.Event()

    def hold(model: str) -> None:
        with bulkhead.admit(model):
            entered.wait()
            release.wait()

    threads = [threading.Thread(target=hold, args=(model,)) for model in models]
    for thread in threads:
        thread.start()
    entered.wait(timeout=5)
    try:
        yield
    finally:
        release.set()
        for thread in threads:
            thread.join()


def refusals(model: str, scope: str) -> float:
    value = REGISTRY.get_sample_value(
        "gateway_model_server_calls_refused_total", {"model": model, "scope": scope}
    )
    return value or 0.0


def test_a_model_at_its_bound_is_refused_503_with_retry_after_while_others_are_admitted():
    bulkhead = Bulkhead(per_worker=4, per_model=2, wait_seconds=0)
    before = refusals("iris", "model")

    with held(bulkhead, "iris", "iris"):
        with pytest.raises(Overloaded) as refused, bulkhead.admit("iris"):
            pass
        with bulkhead.admit("half_plus_two"):
            pass

    assert (refused.value.status_code, refused.value.code) == (503, "overloaded")
    assert refused.value.message == "Too many calls to model iris are in progress; retry later"
    assert refused.value.headers == {"Retry-After": "1"}
    assert refusals("iris", "model") == before + 1


def test_a_worker_at_its_bound_refuses_every_model():
    bulkhead = Bulkhead(per_worker=2, per_model=2, wait_seconds=0)
    before = refusals("digits", "worker")

    with (
        held(bulkhead, "iris", "half_plus_two"),
        pytest.raises(Overloaded) as refused,
        bulkhead.admit("digits"),
    ):
        pass

    assert refused.value.message == "Too many model server calls are in progress; retry later"
    assert refusals("digits", "worker") == before + 1


def test_a_call_inside_a_call_of_the_same_thread_takes_no_second_slot():
    bulkhead = Bulkhead(per_worker=1, per_model=1, wait_seconds=0)

    with bulkhead.admit("iris"), bulkhead.admit("iris"):
        entered = True

    assert entered


def test_slots_come_back_when_a_call_fails():
    bulkhead = Bulkhead(per_worker=1, per_model=1, wait_seconds=0)

    with pytest.raises(RuntimeError), bulkhead.admit("iris"):
        raise RuntimeError("the call failed")
    with bulkhead.admit("iris"):  # refused, had the slots leaked
        admitted = True

    assert admitted


def test_a_call_refused_by_the_worker_gives_back_its_model_slot():
    bulkhead = Bulkhead(per_worker=1, per_model=1, wait_seconds=0)

    with held(bulkhead, "half_plus_two"), pytest.raises(Overloaded), bulkhead.admit("iris"):
        pass
    with bulkhead.admit("iris"):  # refused by model, had its slot leaked
        admitted = True

    assert admitted


def bounds_with(**env: str) -> subprocess.CompletedProcess:
    """The two bounds as settings.py derives them from ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MODEL_SERVER_", "GUNICORN"))}
    return subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "--verbosity=0",
            "-c",
            "from django.conf import settings as s;"
            "print(s.MODEL_SERVER_CONCURRENCY, s.MODEL_SERVER_CONCURRENCY_PER_MODEL)",
        ],
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_bounds_default_to_two_threads_spare_and_two_thirds_of_that_per_model():
    assert bounds_with(GUNICORN_THREADS="12").stdout.split() == ["10", "6"]


def test_a_per_model_bound_above_the_workers_is_refused_naming_it():
    result = bounds_with(MODEL_SERVER_CONCURRENCY="4", MODEL_SERVER_CONCURRENCY_PER_MODEL="5")

    assert result.returncode != 0
    assert "MODEL_SERVER_CONCURRENCY_PER_MODEL must be at most 4 (got 5)" in result.stderr
