"""Clients that send their request a byte at a time (slowloris), in threads."""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# A request whose every byte is sent slowly (headers), and one whose headers arrive at
# once and whose body trickles; both far longer than the time they are given.
SLOW_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + b"a" * 500 + b"\r\n\r\n"
SLOW_BODY = b'{"instances": [1.0]' + b" " * 480 + b"}"


def slow_body_headers(token: str) -> bytes:
    # Authenticated: the gateway refuses an anonymous predict (401) before it reads the
    # body, which would free gunicorn's thread at once and prove nothing.
    return (
        b"POST /v1/models/half_plus_two:predict HTTP/1.1\r\nHost: localhost\r\n"
        b"Authorization: Bearer " + token.encode() + b"\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: " + str(len(SLOW_BODY)).encode() + b"\r\n\r\n"
    )


@dataclass
class SlowClients:
    """Counts the bytes the clients managed to send, and how many were cut off."""

    sent: list[int]
    stop: threading.Event = field(default_factory=threading.Event)
    disconnected: list[bool] = field(default_factory=list)

    def all_sending(self, at_least: int) -> bool:
        return all(count >= at_least for count in self.sent)


def _trickle(
    clients: SlowClients, index: int, address: tuple[str, int], head: bytes, slow: bytes
) -> None:
    pace = random.Random(index)
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(head)
        for byte in slow:
            try:
                sock.send(bytes([byte]))
            except OSError:
                clients.disconnected[index] = True
                return
            clients.sent[index] += 1
            # "A byte every second or two".
            if clients.stop.wait(pace.uniform(1.0, 2.0)):
                return


@contextmanager
def slow_clients(
    address: tuple[str, int], count: int, *, body_token: str | None = None
) -> Iterator[SlowClients]:
    """``count`` connections trickling their headers, or with ``body_token`` sending
    the headers of an authenticated predict at once and trickling its body."""
    clients = SlowClients(sent=[0] * count, disconnected=[False] * count)
    head, slow = (slow_body_headers(body_token), SLOW_BODY) if body_token else (b"", SLOW_HEADERS)
    threads = [
        threading.Thread(target=_trickle, args=(clients, i, address, head, slow), daemon=True)
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    try:
        yield clients
    finally:
        clients.stop.set()
        for thread in threads:
            thread.join(timeout=5)
