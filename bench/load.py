"""Closed-loop load: `concurrency` callers, each with one request in flight, for a fixed time.

One asyncio event loop drives every caller, so the client's own cost stays small
and is measured (CPU seconds of this process per request) rather than assumed:

- HTTP: one keep-alive HTTP/1.1 connection per caller, the request bytes encoded
  once, the response read by its Content-Length. No HTTP library sits in the
  loop: against a do-nothing server, httpx's AsyncClient used 0.7 ms of CPU per
  request at concurrency 1 and 2.9 ms at 32 (as much as the gateway's own Python
  work per request), this client 0.02 and 0.01 ms. On 2 shared cores a heavy
  client would take the CPU the servers under test need.
- gRPC: ``grpc.aio`` on one channel shared by every caller, as the gateway itself
  shares one channel per worker process.

Latency is measured per request from just before the request is written to just
after the whole response is read. A non-2xx status, an unexpected body or a gRPC
error counts as an error (and the first few are kept for the report).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import grpc
import numpy as np

from tfserving.protos import predict_pb2, prediction_service_pb2_grpc

_ERROR_SAMPLES = 5
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Session(Protocol):
    async def call(self) -> str | None:
        """Send one request; None on success, otherwise what went wrong."""
        ...

    async def close(self) -> None: ...


class Target(Protocol):
    name: str

    async def start(self) -> None: ...

    async def open_session(self) -> Session: ...

    async def stop(self) -> None: ...


# --- HTTP -----------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    host: str
    port: int
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    keep_alive: bool = True

    def encode(self) -> bytes:
        lines = [
            f"{self.method} {self.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Connection: {'keep-alive' if self.keep_alive else 'close'}",
            *(f"{name}: {value}" for name, value in self.headers.items()),
        ]
        if self.body or self.method == "POST":
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


class HttpSession:
    def __init__(self, request: HttpRequest, expected_body: bytes | None) -> None:
        self._request = request
        self._wire = request.encode()
        self._expected_body = expected_body
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(
            self._request.host, self._request.port
        )

    async def call(self) -> str | None:
        reused = self._writer is not None
        try:
            status, body = await self._exchange()
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            await self.close()
            if not reused:
                return f"connection lost: {error!r}"
            # An idle keep-alive connection the server had closed (keep-alive timeout, a
            # worker recycled): send again on a new one, as HTTP clients do.
            try:
                status, body = await self._exchange()
            except (asyncio.IncompleteReadError, ConnectionError) as retry_error:
                await self.close()
                return f"connection lost: {retry_error!r}"
        if not 200 <= status < 300:
            return f"HTTP {status}: {body[:200]!r}"
        if self._expected_body is not None and body != self._expected_body:
            return f"unexpected body: {body[:200]!r}"
        return None

    async def _exchange(self) -> tuple[int, bytes]:
        if self._writer is None:
            await self.connect()
        assert self._reader is not None and self._writer is not None
        self._writer.write(self._wire)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status, length, closing = _parse_head(head)
        body = await self._reader.readexactly(length)
        if closing:
            await self.close()
        return status, body

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """Status, Content-Length and whether the server will close the connection."""
    status = int(head[9:12])
    length = None
    closing = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            closing = True
        elif name == b"transfer-encoding":
            raise ValueError("chunked responses are not supported by this client")
    if length is None:
        raise ValueError(f"response without Content-Length: {head[:200]!r}")
    return status, length, closing


@dataclass(frozen=True)
class HttpTarget:
    name: str
    request: HttpRequest
    expected_body: bytes | None = None

    async def start(self) -> None:
        return None

    async def open_session(self) -> HttpSession:
        session = HttpSession(self.request, self.expected_body)
        await session.connect()
        return session

    async def stop(self) -> None:
        return None


# --- gRPC -----------------------------------------------------------------------


class GrpcSession:
    def __init__(self, stub: prediction_service_pb2_grpc.PredictionServiceStub, request: object):
        self._stub = stub
        self._request = request

    async def call(self) -> str | None:
        try:
            await self._stub.Predict(self._request, timeout=30)
        except grpc.RpcError as error:
            return f"gRPC {error.code().name}: {error.details()}"
        return None

    async def close(self) -> None:
        return None


class GrpcTarget:
    """Predict calls straight to the model server over one shared ``grpc.aio`` channel."""

    def __init__(self, name: str, address: str, request: predict_pb2.PredictRequest) -> None:
        self.name = name
        self._address = address
        self._request = request
        self._channel: grpc.aio.Channel | None = None

    async def start(self) -> None:
        self._channel = grpc.aio.insecure_channel(self._address)
        await self._channel.channel_ready()

    async def open_session(self) -> GrpcSession:
        assert self._channel is not None, "start() first"
        stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        return GrpcSession(stub, self._request)

    async def stop(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None


# --- running a load point ---------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LoadResult:
    target: str
    concurrency: int
    seconds: float
    latencies_ms: np.ndarray
    errors: int
    error_samples: tuple[str, ...]
    client_cpu_seconds: float
    # CPU seconds used meanwhile by each named server (a process tree).
    server_cpu_seconds: Mapping[str, float]
    # CPU seconds used meanwhile by the whole machine, every process included.
    machine_cpu_seconds: float

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q))

    def cpu_ms_per_request(self, group: str) -> float:
        return self.server_cpu_seconds[group] / self.requests * 1e3

    @property
    def client_cpu_ms_per_request(self) -> float:
        return self.client_cpu_seconds / self.requests * 1e3

    @property
    def other_cpu_cores(self) -> float:
        """Cores busy meanwhile with anything but the client and the measured servers:
        other work on the machine that competed with the measurement."""
        ours = self.client_cpu_seconds + sum(self.server_cpu_seconds.values())
        return max(0.0, self.machine_cpu_seconds - ours) / self.seconds


def merge(results: Sequence[LoadResult]) -> LoadResult:
    """One result from several rounds of the same target and concurrency."""
    first = results[0]
    return LoadResult(
        target=first.target,
        concurrency=first.concurrency,
        seconds=sum(result.seconds for result in results),
        latencies_ms=np.concatenate([result.latencies_ms for result in results]),
        errors=sum(result.errors for result in results),
        error_samples=tuple(s for result in results for s in result.error_samples)[:_ERROR_SAMPLES],
        client_cpu_seconds=sum(result.client_cpu_seconds for result in results),
        server_cpu_seconds={
            group: sum(result.server_cpu_seconds[group] for result in results)
            for group in first.server_cpu_seconds
        },
        machine_cpu_seconds=sum(result.machine_cpu_seconds for result in results),
    )


def cpu_seconds(root: int) -> float:
    """User + system CPU seconds of a process tree (every thread), from /proc.

    A process's own time plus the time of children it has reaped (cutime, cstime)
    plus its live children's trees: exact across gunicorn replacing a worker.
    """
    try:
        stat = Path(f"/proc/{root}/stat").read_text()
        children = Path(f"/proc/{root}/task/{root}/children").read_text().split()
    except FileNotFoundError:
        return 0.0
    # Fields after the parenthesised command name: utime, stime, cutime, cstime are 14-17.
    fields = stat.rsplit(")", 1)[1].split()
    own = sum(int(value) for value in fields[11:15]) / _CLOCK_TICKS
    return own + sum(cpu_seconds(int(child)) for child in children)


def machine_cpu_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    # user nice system idle iowait irq softirq steal: everything but idle and iowait.
    busy = sum(int(fields[index]) for index in (1, 2, 3, 6, 7, 8))
    return busy / _CLOCK_TICKS


# True while the callers should keep sending; made when the measured part starts.
KeepGoing = Callable[[], bool]


def for_seconds(seconds: float) -> KeepGoing:
    deadline = time.perf_counter() + seconds
    return lambda: time.perf_counter() < deadline


def for_requests(requests: int) -> KeepGoing:
    remaining = iter(range(requests))
    return lambda: next(remaining, None) is not None


def run_load(
    target: Target,
    concurrency: int,
    duration: float,
    warmup: float = 0.0,
    server_pids: Mapping[str, int] | None = None,
) -> LoadResult:
    """Drive ``target`` with ``concurrency`` callers for ``warmup`` then ``duration`` seconds."""
    return asyncio.run(
        _run(target, concurrency, warmup, lambda: for_seconds(duration), server_pids or {})
    )


def run_requests(target: Target, concurrency: int, requests: int) -> LoadResult:
    """Send exactly ``requests`` requests, ``concurrency`` at a time, without warm-up."""
    return asyncio.run(_run(target, concurrency, 0.0, lambda: for_requests(requests), {}))


async def _run(
    target: Target,
    concurrency: int,
    warmup: float,
    measured: Callable[[], KeepGoing],
    server_pids: Mapping[str, int],
) -> LoadResult:
    await target.start()
    try:
        sessions = [await target.open_session() for _ in range(concurrency)]
        try:
            if warmup > 0:
                await _drive(sessions, for_seconds(warmup))
            client_before = time.process_time()
            servers_before = {group: cpu_seconds(pid) for group, pid in server_pids.items()}
            machine_before = machine_cpu_seconds()
            started = time.perf_counter()
            latencies, errors = await _drive(sessions, measured())
            seconds = time.perf_counter() - started
            client_cpu = time.process_time() - client_before
            machine_cpu = machine_cpu_seconds() - machine_before
            server_cpu = {
                group: cpu_seconds(pid) - servers_before[group]
                for group, pid in server_pids.items()
            }
        finally:
            for session in sessions:
                await session.close()
    finally:
        await target.stop()
    return LoadResult(
        target=target.name,
        concurrency=concurrency,
        seconds=seconds,
        latencies_ms=np.array(latencies) * 1e3,
        errors=len(errors),
        error_samples=tuple(errors[:_ERROR_SAMPLES]),
        client_cpu_seconds=client_cpu,
        server_cpu_seconds=server_cpu,
        machine_cpu_seconds=machine_cpu,
    )


async def _drive(
    sessions: Sequence[Session], keep_going: KeepGoing
) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    clock = time.perf_counter

    async def caller(session: Session) -> None:
        while keep_going():
            started = clock()
            error = await session.call()
            latencies.append(clock() - started)
            if error is not None:
                errors.append(error)

    await asyncio.gather(*(caller(session) for session in sessions))
    return latencies, errors
