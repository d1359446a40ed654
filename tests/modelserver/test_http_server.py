"""The REST port's HTTP/1.1 server on its own: framing, limits, keep-alive, slow clients."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from modelserver.http_server import (
    Deadline,
    HttpLimits,
    HttpRequest,
    HttpResponse,
    HttpServer,
)
from tests.support.processes import free_port

LIMIT = 1000


@dataclass
class EchoApp:
    """Answers with the request's method, path and body; /slow waits for ``release``."""

    release: threading.Event = field(default_factory=threading.Event)
    observed: list[tuple[str, int]] = field(default_factory=list)
    deadline_seconds: float | None = None

    def handle(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/slow":
            self.release.wait(timeout=30)
        return HttpResponse(
            200, request.method.encode() + b" " + request.path.encode() + b" " + request.body
        )

    def deadline(self, request: HttpRequest) -> Deadline | None:
        if self.deadline_seconds is None or request.path != "/slow":
            return None
        return Deadline(self.deadline_seconds, HttpResponse(504, b'{"error": "late"}'))

    def observe(self, request: HttpRequest, response: HttpResponse, seconds: float) -> None:
        self.observed.append((request.path, response.status))


@pytest.fixture
def app() -> Iterator[EchoApp]:
    app = EchoApp()
    yield app
    app.release.set()


@pytest.fixture
def url(app: EchoApp) -> Iterator[str]:
    port = free_port()
    server = HttpServer(app, "127.0.0.1", port, threads=1, limits=HttpLimits(max_body_bytes=LIMIT))
    server.start()
    yield f"http://127.0.0.1:{port}"
    app.release.set()
    server.stop()


def exchange(url: str, raw: bytes) -> bytes:
    """Send ``raw`` on a new connection; everything the server sends until it closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_request_with_a_body_is_answered(url):
    response = httpx.post(f"{url}/v1/x", content=b"hello")

    assert (response.status_code, response.content) == (200, b"POST /v1/x hello")
    assert response.headers["content-type"] == "application/json"


def test_the_query_string_is_not_part_of_the_path(url):
    assert httpx.get(f"{url}/v1/models/m?x=1").content == b"GET /v1/models/m "


def test_keep_alive_answers_several_requests_on_one_connection(url):
    raw = (
        b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1"
        b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )

    answer = exchange(url, raw)

    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert answer.endswith(b"GET /b ")


def test_http_1_0_closes_after_the_answer(url):
    answer = exchange(url, b"GET /a HTTP/1.0\r\n\r\n")

    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Connection: close\r\n" in answer


def test_head_gets_the_headers_without_the_body(url):
    answer = exchange(url, b"HEAD /abc HTTP/1.1\r\nConnection: close\r\n\r\n")

    assert b"Content-Length: 10\r\n" in answer  # len(b"HEAD /abc ")
    assert answer.endswith(b"\r\n\r\n")


def test_chunked_bodies_are_read_whole(url):
    raw = (
        b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n"
    )

    assert exchange(url, raw).endswith(b"POST /c abcdefg")


def test_expect_100_continue_is_answered_before_the_body(url):
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /e HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        interim = sock.recv(65536)
        sock.sendall(b"ok")
        final = b""
        while not final.endswith(b"POST /e ok") and (chunk := sock.recv(65536)):
            final += chunk

    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert final.startswith(b"HTTP/1.1 200 OK\r\n") and final.endswith(b"POST /e ok")


@pytest.mark.parametrize(
    "raw",
    [
        b"POST /big HTTP/1.1\r\nContent-Length: 1001\r\n\r\n",
        b"POST /big HTTP/1.1\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n",
        b"POST /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n" + b"x" * 1001,
    ],
    ids=["content-length", "expect-100-continue", "chunked"],
)
def test_a_body_over_the_limit_is_refused_with_413_without_reading_it(url, raw):
    answer = exchange(url, raw)

    assert answer.startswith(b"HTTP/1.1 413 Request Entity Too Large\r\n")
    assert answer.endswith(b'{"error": "Request body is larger than 1000 bytes"}')


def test_a_body_at_the_limit_is_accepted(url):
    assert httpx.post(f"{url}/ok", content=b"x" * LIMIT).status_code == 200


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", b"431"),
        (b"NONSENSE\r\n\r\n", b"400"),
        (b"GET /a HTTP/1.1\r\nbad header line\r\n\r\n", b"400"),
        (b"POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", b"400"),
        (b"POST /a HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"400"),
        (b"TRACE /a HTTP/1.1\r\n\r\n", b"405"),
    ],
    ids=["head-too-large", "bad-request-line", "bad-header", "two-lengths", "bad-length", "trace"],
)
def test_requests_that_cannot_be_read_are_refused_and_closed(url, raw, status):
    assert exchange(url, raw).startswith(b"HTTP/1.1 " + status + b" ")


def test_a_slow_client_does_not_hold_the_only_thread(url):
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as stalled:
        stalled.sendall(b"POST /a HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly part of it")

        response = httpx.get(f"{url}/other", timeout=10)

    assert response.content == b"GET /other "


def test_an_idle_keep_alive_connection_does_not_hold_the_only_thread(url):
    with httpx.Client(base_url=url, timeout=10) as idle:
        assert idle.get("/first").status_code == 200  # its connection stays open

        assert httpx.get(f"{url}/second", timeout=10).content == b"GET /second "


def test_past_its_deadline_a_call_gets_the_deadline_answer_once(url, app):
    app.deadline_seconds = 0.2

    response = httpx.get(f"{url}/slow", timeout=10)
    app.release.set()

    assert (response.status_code, response.content) == (504, b'{"error": "late"}')
    assert app.observed == [("/slow", 504)]


def test_the_port_in_use_is_an_os_error(url):
    port = int(url.rsplit(":", 1)[1])
    second = HttpServer(EchoApp(), "127.0.0.1", port, threads=1, limits=HttpLimits(LIMIT))

    with pytest.raises(OSError):
        second.start()
