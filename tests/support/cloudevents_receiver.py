"""A local HTTP endpoint that receives CloudEvents (as KServe's message dumper would)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class ReceivedEvent:
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class CloudEventsReceiver:
    url: str
    events: list[ReceivedEvent] = field(default_factory=list)
    delay_seconds: float = 0.0  # answer this late (a slow receiver)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[ReceivedEvent]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.events) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(self.events)} of {count} events arrived")
                self.changed.wait(remaining)
            return list(self.events)


@contextlib.contextmanager
def cloudevents_receiver(delay_seconds: float = 0.0) -> Iterator[CloudEventsReceiver]:
    receiver: CloudEventsReceiver

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if receiver.delay_seconds:
                time.sleep(receiver.delay_seconds)
            with receiver.changed:
                receiver.events.append(
                    ReceivedEvent({k.lower(): v for k, v in self.headers.items()}, body)
                )
                receiver.changed.notify_all()
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = CloudEventsReceiver(
        url=f"http://127.0.0.1:{server.server_address[1]}/", delay_seconds=delay_seconds
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
