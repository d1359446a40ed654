"""A small HTTP/1.1 server for the REST API, on the standard library's asyncio.

TF Serving serves REST with libevent: one event loop reads every request whole, and
a fixed pool of ``--rest_api_num_threads`` threads answers them. This server has the
same shape, so an idle keep-alive connection or a slow client holds a socket, never
a thread, and at most ``threads`` requests are answered at once (others wait in
line). Bounds: a request head of 64 KiB, a body of ``max_body_bytes`` (413 beyond,
also for chunked bodies), 60 s to send a head (also between keep-alive requests)
and 60 s for a body. What the server holds for requests being received grows with
the connections sending at once, each up to the body limit.

It speaks what TF Serving's clients use: Content-Length and chunked bodies,
``Expect: 100-continue`` (curl sends it for bodies over 1 KiB), keep-alive, HEAD.
The application (the REST API) is an ``HttpApp``; its handler runs on the pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import http
import logging
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)

# Methods libevent lets through in TF Serving (evhttp_set_allowed_methods); others get 405.
ALLOWED_METHODS = frozenset({"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"})


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str  # the request target's path as sent (percent-encoded), without the query
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""
    version: str = "HTTP/1.1"


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    # What the application wants to remember about the answer (e.g. for metrics).
    note: object = field(default=None, compare=False)


@dataclass(frozen=True)
class Deadline:
    """If the handler has not answered ``seconds`` after it started, ``response`` is sent."""

    seconds: float
    response: HttpResponse


class HttpApp(Protocol):
    def handle(self, request: HttpRequest) -> HttpResponse: ...

    def deadline(self, request: HttpRequest) -> Deadline | None: ...

    def observe(self, request: HttpRequest, response: HttpResponse, seconds: float) -> None:
        """Called once per answered request with the response sent and its duration."""


@dataclass(frozen=True)
class HttpLimits:
    max_body_bytes: int
    max_head_bytes: int = 64 * 1024
    head_timeout_seconds: float = 60.0
    body_timeout_seconds: float = 60.0


class _Refused(Exception):
    """The request cannot be read; answer ``response`` and close the connection."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


def _plain_error(status: int) -> HttpResponse:
    """An error page as libevent writes one (evhttp_send_error)."""
    phrase = _phrase(status)
    body = (
        f"<HTML><HEAD>\n<TITLE>{status} {phrase}</TITLE>\n</HEAD><BODY>\n<H1>{phrase}</H1>\n"
        "</BODY></HTML>\n"
    ).encode()
    return HttpResponse(status, body, content_type="text/html; charset=ISO-8859-1")


def not_found() -> HttpResponse:
    return _plain_error(404)


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Client Closed Request" if status == 499 else "Unknown"


class HttpServer:
    def __init__(
        self, app: HttpApp, host: str, port: int, *, threads: int, limits: HttpLimits
    ) -> None:
        self._app = app
        self._address = (host, port)
        self._limits = limits
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, threads), thread_name_prefix="rest"
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._connections: set[asyncio.Task] = set()

    def start(self) -> None:
        """Listen (OSError if the address is taken), then serve on a thread of its own."""
        host, port = self._address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.create_server((host, port), family=family)
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(listener),), name="rest-loop", daemon=True
        )
        self._thread.start()
        self._ready.wait()

    def stop(self) -> None:
        """Stop listening, close every connection, let running handlers finish."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)

    async def _serve(self, listener: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(
            self._connection, sock=listener, limit=self._limits.max_head_bytes
        )
        self._ready.set()
        async with server:
            await self._stopping.wait()
            server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)

    # ---- one connection --------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                try:
                    request = await self._read_request(reader, writer)
                except _Refused as refused:
                    await _send(writer, refused.response, keep_alive=False, with_body=True)
                    await _linger(reader)
                    return
                if request is None:
                    return
                response = await self._answer(request)
                keep_alive = _keep_alive(request)
                await _send(writer, response, keep_alive, with_body=request.method != "HEAD")
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away, or was too slow to send its request
        finally:
            self._connections.discard(task)
            writer.close()

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> HttpRequest | None:
        try:
            async with asyncio.timeout(self._limits.head_timeout_seconds):
                head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as error:
            if error.partial.strip():
                raise
            return None  # closed between requests
        except asyncio.LimitOverrunError:
            raise _Refused(_plain_error(431)) from None
        method, target, version, headers = _parse_head(head)
        if method not in ALLOWED_METHODS:
            raise _Refused(_plain_error(405))
        async with asyncio.timeout(self._limits.body_timeout_seconds):
            body = await self._read_body(reader, writer, headers, version)
        path = target.split("?", 1)[0]
        if "://" in path:  # absolute-form target: keep only the path
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        return HttpRequest(method, path, headers, body, version)

    async def _read_body(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        headers: Mapping[str, str],
        version: str,
    ) -> bytes:
        limit = self._limits.max_body_bytes
        encoding = headers.get("transfer-encoding", "").lower()
        length_text = headers.get("content-length")
        if encoding:
            if not encoding.replace(" ", "").endswith("chunked"):
                raise _Refused(_plain_error(400))
            await _continue(writer, headers, version)
            return await _read_chunked(reader, limit)
        if length_text is None:
            return b""
        if not length_text.isdigit():
            raise _Refused(_plain_error(400))
        length = int(length_text)
        if length > limit:
            raise _Refused(_too_large(limit))
        await _continue(writer, headers, version)
        return await reader.readexactly(length)

    async def _answer(self, request: HttpRequest) -> HttpResponse:
        loop = asyncio.get_running_loop()
        started = loop.create_future()
        began = time.perf_counter()

        def run() -> HttpResponse:
            loop.call_soon_threadsafe(_resolve, started)
            return self._app.handle(request)

        answer = asyncio.wrap_future(self._pool.submit(run))
        deadline = self._app.deadline(request)
        try:
            if deadline is None:
                response = await answer
            else:
                # Like TF Serving's session timeout, the time counts from when the call runs,
                # not while it waits for a thread. The call itself cannot be interrupted: it
                # finishes on its thread, and its answer is dropped.
                await asyncio.wait({started, answer}, return_when=asyncio.FIRST_COMPLETED)
                try:
                    response = await asyncio.wait_for(asyncio.shield(answer), deadline.seconds)
                except TimeoutError:
                    response = deadline.response
        except Exception:  # the application failed to turn a failure into an answer
            log.exception("REST handler failed for %s %s", request.method, request.path)
            response = HttpResponse(500, b'{"error": "Internal error"}')
        self._app.observe(request, response, time.perf_counter() - began)
        return response


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1]:
        raise _Refused(_plain_error(400))
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise _Refused(_plain_error(400))
        key, value = name.lower(), value.strip()
        if key not in headers:
            headers[key] = value
        elif key == "content-length":
            if headers[key] != value:
                raise _Refused(_plain_error(400))  # two different lengths
        else:
            headers[key] = f"{headers[key]}, {value}"
    return method, target, version, headers


# After refusing a request the client may still be sending its body; closing at once
# would reset the connection before it reads the answer. So, as web servers do, read
# and discard what it sends for a short while (bounded in time and bytes) first.
_LINGER_SECONDS = 2.0
_LINGER_BYTES = 64 * 1024 * 1024


async def _linger(reader: asyncio.StreamReader) -> None:
    deadline = asyncio.get_running_loop().time() + _LINGER_SECONDS
    discarded = 0
    while discarded < _LINGER_BYTES:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return
        try:
            chunk = await asyncio.wait_for(reader.read(65536), remaining)
        except (TimeoutError, ConnectionError):
            return
        if not chunk:
            return
        discarded += len(chunk)


def _too_large(limit: int) -> HttpResponse:
    return HttpResponse(413, f'{{"error": "Request body is larger than {limit} bytes"}}'.encode())


async def _continue(writer: asyncio.StreamWriter, headers: Mapping[str, str], version: str) -> None:
    if headers.get("expect", "").lower() == "100-continue" and version == "HTTP/1.1":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    chunks = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _Refused(_plain_error(400)) from None
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailer fields are ignored
            return bytes(chunks)
        if len(chunks) + size > limit:
            raise _Refused(_too_large(limit))
        chunks += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise _Refused(_plain_error(400))


def _keep_alive(request: HttpRequest) -> bool:
    tokens = {token.strip().lower() for token in request.headers.get("connection", "").split(",")}
    if request.version == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


async def _send(
    writer: asyncio.StreamWriter, response: HttpResponse, keep_alive: bool, with_body: bool
) -> None:
    lines = [f"HTTP/1.1 {response.status} {_phrase(response.status)}"]
    if response.content_type is not None:
        lines.append(f"Content-Type: {response.content_type}")
    lines.append(f"Content-Length: {len(response.body)}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    lines.extend(f"{name}: {value}" for name, value in response.headers)
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    if with_body:
        writer.write(response.body)
    await writer.drain()
