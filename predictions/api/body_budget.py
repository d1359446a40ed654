"""How many bytes of large request bodies one worker works on at once.

A predict holds about fourteen times its body at its peak (see serving_project/memory.py),
in the worker and again in the model server, so eight concurrent bodies at
MAX_REQUEST_BYTES took over a gigabyte in each. Bodies of LARGE_BODY_BYTES or more
therefore take their declared length from a per-worker budget,
MAX_BODY_BYTES_IN_FLIGHT, before the body is read; a body that finds no room within
MODEL_SERVER_QUEUE_SECONDS is answered 503 ``overloaded`` with Retry-After. A body
always fits when the worker holds no other large one, so every body MAX_REQUEST_BYTES
admits can be served. Smaller bodies are not counted: the worker's threads bound them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from predictions.api.exceptions import error_response
from predictions.api.middleware import declared_length
from predictions.audit.entry import AuditEntry
from predictions.inference.upstream import Overloaded
from predictions.operations import metrics

LARGE_BODY_BYTES = 1024 * 1024


class BodyBudget:
    """A byte count shared by a worker's threads: take() waits for room, give() returns it."""

    def __init__(self, limit_bytes: int, wait_seconds: float) -> None:
        self.limit_bytes = limit_bytes
        self.wait_seconds = wait_seconds
        self.held_bytes = 0
        self._room = threading.Condition()

    def take(self, size: int) -> bool:
        with self._room:
            if not self._room.wait_for(lambda: self._fits(size), timeout=self.wait_seconds):
                return False
            self.held_bytes += size
            return True

    def give(self, size: int) -> None:
        with self._room:
            self.held_bytes -= size
            self._room.notify_all()

    def _fits(self, size: int) -> bool:
        return self.held_bytes == 0 or self.held_bytes + size <= self.limit_bytes


class BodyBudgetMiddleware:
    """Holds a large body's bytes of the worker's budget while the request is worked on
    (after AuditMiddleware, so a refusal is audited)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.budget = BodyBudget(
            settings.MAX_BODY_BYTES_IN_FLIGHT, settings.MODEL_SERVER_QUEUE_SECONDS
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        size = min(declared_length(request), settings.MAX_REQUEST_BYTES + 1)
        if size < LARGE_BODY_BYTES or size > settings.MAX_REQUEST_BYTES:
            return self.get_response(request)  # small, or refused 413 unread
        if not self.budget.take(size):
            return refused(request)
        try:
            response = self.get_response(request)
        except BaseException:
            self.budget.give(size)
            raise
        # The answer holds about as much again until it is sent: the bytes go back when
        # the server closes the response, not when the view returns.
        close = response.close

        def close_and_give() -> None:
            try:
                close()
            finally:
                self.budget.give(size)

        response.close = close_and_give  # type: ignore[method-assign]
        return response


def refused(request: HttpRequest) -> JsonResponse:
    metrics.request_body_refused()
    error = Overloaded("Too many large request bodies are in progress; retry later")
    entry: AuditEntry | None = getattr(request, "audit", None)
    if entry is not None:
        entry.error_code = error.code
    return error_response(error)
