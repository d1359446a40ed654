"""The per-worker budget for large request bodies (predictions/api/body_budget.py).

What it bounds is measured end to end in test_bounded_memory_gunicorn.py; these tests
pin the rules: a body always fits alone, bodies share the budget, a body that finds no
room within the wait is refused with 503 overloaded (audited, counted, Retry-After),
and the bytes go back only when the response is closed.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from prometheus_client import REGISTRY

from predictions.api.body_budget import LARGE_BODY_BYTES, BodyBudget, BodyBudgetMiddleware
from predictions.audit.entry import AuditEntry

MIB = 1024 * 1024


def refusals() -> float:
    return REGISTRY.get_sample_value("gateway_request_bodies_refused_total") or 0.0


def large_post(size: int) -> HttpRequest:
    request = RequestFactory().post(
        "/v1/models/m:predict", data=b"", content_type="application/json"
    )
    request.META["CONTENT_LENGTH"] = str(size)
    request.audit = AuditEntry(  # type: ignore[attr-defined]
        created_at=datetime.now(UTC),
        started=time.perf_counter(),
        request_id="r",
        http_method="POST",
        path=request.path,
        request_bytes=size,
    )
    return request


def test_a_body_larger_than_the_budget_still_fits_alone() -> None:
    budget = BodyBudget(limit_bytes=1, wait_seconds=0.0)
    assert budget.take(10 * MIB)
    assert budget.held_bytes == 10 * MIB
    budget.give(10 * MIB)
    assert budget.held_bytes == 0


def test_bodies_share_the_budget_and_a_waiting_body_gets_the_room_given_back() -> None:
    budget = BodyBudget(limit_bytes=3 * MIB, wait_seconds=5.0)
    assert budget.take(2 * MIB)
    assert budget.take(1 * MIB)
    taken = threading.Event()

    def third() -> None:
        if budget.take(2 * MIB):
            taken.set()

    waiter = threading.Thread(target=third)
    waiter.start()
    assert not taken.wait(0.2)  # 3 MiB held: no room for 2 more
    budget.give(2 * MIB)
    assert taken.wait(5.0)
    waiter.join()
    assert budget.held_bytes == 3 * MIB


def test_a_body_that_finds_no_room_within_the_wait_is_refused() -> None:
    budget = BodyBudget(limit_bytes=3 * MIB, wait_seconds=0.05)
    assert budget.take(2 * MIB)
    started = time.monotonic()
    assert not budget.take(2 * MIB)
    assert time.monotonic() - started >= 0.05
    assert budget.held_bytes == 2 * MIB


@pytest.fixture
def budget_settings(settings, db):
    settings.MAX_REQUEST_BYTES = 8 * MIB
    settings.MAX_BODY_BYTES_IN_FLIGHT = 3 * MIB
    settings.MODEL_SERVER_QUEUE_SECONDS = 0.05
    return settings


def test_a_refused_body_is_answered_503_overloaded_audited_and_counted(budget_settings) -> None:
    release = threading.Event()
    inside = threading.Event()

    def held_view(request: HttpRequest) -> HttpResponse:
        inside.set()
        release.wait(10)
        return HttpResponse("ok")

    middleware = BodyBudgetMiddleware(held_view)
    first = threading.Thread(target=lambda: middleware(large_post(2 * MIB)).close())
    first.start()
    assert inside.wait(5)
    before = refusals()
    request = large_post(2 * MIB)
    try:
        response = middleware(request)
    finally:
        release.set()
        first.join()
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert json.loads(response.content) == {
        "error": "Too many large request bodies are in progress; retry later",
        "code": "overloaded",
    }
    assert request.audit.error_code == "overloaded"
    assert refusals() == before + 1
    assert middleware.budget.held_bytes == 0


def test_the_bytes_go_back_when_the_response_is_closed_not_when_the_view_returns(
    budget_settings,
) -> None:
    middleware = BodyBudgetMiddleware(lambda request: HttpResponse("ok"))
    response = middleware(large_post(2 * MIB))
    assert middleware.budget.held_bytes == 2 * MIB
    response.close()
    assert middleware.budget.held_bytes == 0


def test_a_view_that_raises_gives_the_bytes_back(budget_settings) -> None:
    def broken(request: HttpRequest) -> HttpResponse:
        raise RuntimeError("boom")

    middleware = BodyBudgetMiddleware(broken)
    with pytest.raises(RuntimeError):
        middleware(large_post(2 * MIB))
    assert middleware.budget.held_bytes == 0


@pytest.mark.parametrize("size", [LARGE_BODY_BYTES - 1, 8 * MIB + 1, 99999999999999999999], ids=str)
def test_small_bodies_and_bodies_refused_413_unread_take_nothing(budget_settings, size) -> None:
    seen: list[int] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(middleware.budget.held_bytes)
        return HttpResponse("ok")

    middleware = BodyBudgetMiddleware(view)
    middleware(large_post(size)).close()
    assert seen == [0]
