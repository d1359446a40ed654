"""Requests the proxy refuses before gunicorn sees them are answered as JSON.

gunicorn answers a request it cannot parse with an HTML page; behind nginx (the
production proxy config, run for real) nginx's limits are the first to refuse, with
``{"error": ..., "code": ...}`` like the gateway's own errors. Raw sockets, because an
HTTP client would refuse to send most of these.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from serving_project.processes import start_proxy, terminate
from tests.support.front_proxy import NGINX, production_proxy
from tests.support.processes import ModelServerProcess, free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NGINX is None, reason="needs nginx (apt-get install nginx-light)"),
]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def exchange(port: int, request: bytes) -> Answer:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), headers, body)


def wait_until_listening(port: int, process: subprocess.Popen, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise AssertionError(f"nginx is not listening on {port} (exit code {process.poll()})")


@pytest.fixture(scope="module")
def proxy_port(
    tmp_path_factory: pytest.TempPathFactory, modelserver_process: ModelServerProcess
) -> Iterator[int]:
    with production_proxy(tmp_path_factory.mktemp("proxy"), modelserver_process.address) as url:
        yield int(url.rpartition(":")[2])


def get(path: str, *extra_headers: bytes) -> bytes:
    headers = b"".join(header + b"\r\n" for header in extra_headers)
    return (
        b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\n" + headers
        + b"Connection: close\r\n\r\n"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "request_bytes", "status", "error"),
    [
        (
            "a request line nginx cannot parse",
            b"NOT HTTP AT ALL\r\n\r\n",
            400,
            {"error": "Malformed HTTP request", "code": "bad_request"},
        ),
        (
            # Longer than gunicorn's 4094-byte request line, shorter than nginx's buffer.
            "a 6000-byte URI",
            get("/healthz?" + "a" * 6000),
            414,
            {"error": "Request URI too long", "code": "uri_too_long"},
        ),
        (
            "a 9000-byte URI",
            get("/healthz?" + "a" * 9000),
            414,
            {"error": "Request URI too long", "code": "uri_too_long"},
        ),
        (
            "a 9000-byte header",
            get("/healthz", b"X-Large: " + b"a" * 9000),
            400,
            {"error": "Request header or cookie too large", "code": "bad_request"},
        ),
        (
            "an obsolete folded header line",
            b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-A: b\r\n c\r\n\r\n",
            400,
            {"error": "Malformed HTTP request", "code": "bad_request"},
        ),
        (
            "a malformed chunk size",
            b"POST /healthz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\nzz\r\n",
            400,
            {"error": "Malformed HTTP request", "code": "bad_request"},
        ),
        (
            "an unknown transfer coding",
            b"POST /healthz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n"
            b"Connection: close\r\n\r\n",
            501,
            {"error": "Transfer-Encoding not supported", "code": "not_implemented"},
        ),
        (
            "HTTP/2.5",
            b"GET /healthz HTTP/2.5\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            505,
            {"error": "HTTP version not supported", "code": "http_version_not_supported"},
        ),
        (
            "a body over MAX_REQUEST_BYTES",
            b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: 40000000\r\n"
            b"Connection: close\r\n\r\n",
            413,
            {
                "error": "Request body is larger than the allowed maximum",
                "code": "payload_too_large",
            },
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_proxy_refuses_as_json(
    proxy_port: int, name: str, request_bytes: bytes, status: int, error: dict
) -> None:
    answer = exchange(proxy_port, request_bytes)

    assert (answer.status, answer.headers["content-type"], answer.json()) == (
        status,
        "application/json",
        error,
    )


def test_proxy_answers_502_json_with_retry_after_when_gunicorn_is_not_listening(
    tmp_path: Path,
) -> None:
    assert NGINX is not None
    port = free_port()
    proxy = start_proxy(
        f"127.0.0.1:{port}", f"127.0.0.1:{free_port()}", tmp_path, nginx=NGINX, env=os.environ
    )
    try:
        wait_until_listening(port, proxy)
        answer = exchange(port, get("/healthz"))
    finally:
        terminate(proxy)

    assert (answer.status, answer.headers["retry-after"], answer.json()) == (
        502,
        "1",
        {"error": "The gateway is unavailable; retry later", "code": "bad_gateway"},
    )


def options_request(uri_bytes: int) -> bytes:
    uri = "/healthz?" + "a" * (uri_bytes - len("/healthz?"))
    return f"OPTIONS {uri} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()


def test_the_longest_uri_gunicorn_takes_still_reaches_the_gateway(proxy_port: int) -> None:
    request = options_request(4077)
    assert len(request.split(b"\r\n")[0]) == 4094  # gunicorn's limit_request_line

    answer = exchange(proxy_port, request)

    assert (answer.status, answer.headers["allow"]) == (200, "GET, HEAD, OPTIONS")


def test_one_byte_more_is_refused_by_the_proxy_as_json(proxy_port: int) -> None:
    answer = exchange(proxy_port, options_request(4078))

    assert (answer.status, answer.json()) == (
        414,
        {"error": "Request URI too long", "code": "uri_too_long"},
    )
