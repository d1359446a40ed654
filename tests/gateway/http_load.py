"""Closed-loop HTTP load for end-to-end tests: N callers, each with one request in flight.

Every request carries its own X-Request-ID, so a test can find its audit record,
and leaves an Outcome with its status and timing, so a test can ask what happened
before, during and after a fault. The standard library's http.client keeps the
client's own CPU cost small on a machine it shares with the servers under test.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class Outcome:
    request_id: str
    status: int | None  # None: no answer (connection reset, refused or timed out)
    started: float  # time.monotonic()
    finished: float
    retry_after: str | None
    body: bytes

    @property
    def seconds(self) -> float:
        return self.finished - self.started


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None
    headers: Mapping[str, str]


class Load:
    """Sends ``request`` from ``concurrency`` threads until ``total`` are sent or until stop()."""

    def __init__(
        self,
        address: str,
        request: Request,
        *,
        concurrency: int,
        total: int | None = None,
        id_prefix: str = "load",
        keep_alive: bool = True,
    ) -> None:
        self.host, _, port = address.partition(":")
        self.port = int(port)
        self.request = request
        self.total = total
        self.id_prefix = id_prefix
        self.keep_alive = keep_alive
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._outcomes: list[Outcome] = []
        self._threads = [
            threading.Thread(target=self._caller, name=f"load-{index}", daemon=True)
            for index in range(concurrency)
        ]

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> list[Outcome]:
        self._stop.set()
        return self.join()

    def join(self) -> list[Outcome]:
        for thread in self._threads:
            thread.join()
        return sorted(self._outcomes, key=lambda outcome: outcome.started)

    def _next_request_id(self) -> str | None:
        with self._lock:
            number = next(self._numbers)
        if self._stop.is_set() or (self.total is not None and number >= self.total):
            return None
        return f"{self.id_prefix}-{number}"

    def _caller(self) -> None:
        connection: http.client.HTTPConnection | None = None
        while (request_id := self._next_request_id()) is not None:
            if connection is None:
                connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=_TIMEOUT_SECONDS
                )
            headers = {**self.request.headers, "X-Request-ID": request_id}
            if not self.keep_alive:
                headers["Connection"] = "close"
            started = time.monotonic()
            try:
                connection.request(
                    self.request.method, self.request.path, self.request.body, headers
                )
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException):
                outcome = Outcome(request_id, None, started, time.monotonic(), None, b"")
                connection.close()
                connection = None
            else:
                outcome = Outcome(
                    request_id,
                    response.status,
                    started,
                    time.monotonic(),
                    response.getheader("Retry-After"),
                    body,
                )
                if not self.keep_alive or response.will_close:
                    connection.close()
                    connection = None
            with self._lock:
                self._outcomes.append(outcome)
        if connection is not None:
            connection.close()


def run_load(
    address: str, request: Request, *, concurrency: int, total: int, **options: Any
) -> list[Outcome]:
    """``total`` requests from ``concurrency`` callers; the outcomes in order of start."""
    return Load(address, request, concurrency=concurrency, total=total, **options).start().join()


@contextlib.contextmanager
def background_load(address: str, request: Request, **options: Any) -> Iterator[Load]:
    """Load that runs while the block runs (the block calls stop() for the outcomes)."""
    load = Load(address, request, **options).start()
    try:
        yield load
    finally:
        load.stop()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
