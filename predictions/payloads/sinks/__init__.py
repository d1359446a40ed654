"""Where logged exchanges go: the database, a JSON Lines file, CloudEvents over HTTP.

Each configured sink has one SinkWriter (queue.py) per worker process, built on first use.
"""

from __future__ import annotations

import atexit
import threading

from django.conf import settings

from predictions.payloads.queue import Sink, SinkWriter

DATABASE, FILE, CLOUDEVENTS = "database", "file", "cloudevents"

_lock = threading.Lock()
_writers: dict[str, SinkWriter | None] = {}


def configured(name: str) -> bool:
    """Whether the gateway's settings make sink ``name`` available."""
    if name == FILE:
        return bool(settings.PAYLOAD_LOG_FILE)
    if name == CLOUDEVENTS:
        return bool(settings.PAYLOAD_CLOUDEVENTS_URL)
    return name == DATABASE


def writer(name: str) -> SinkWriter | None:
    """This process's writer for sink ``name`` (None if it is not configured)."""
    try:
        return _writers[name]
    except KeyError:
        pass
    with _lock:
        if name not in _writers:
            _writers[name] = new_writer(name) if configured(name) else None
        return _writers[name]


def new_writer(name: str, *, background: bool = True) -> SinkWriter:
    """A writer for sink ``name`` as the settings describe it (``background=False``: tests)."""
    sink = _build(name)
    return SinkWriter(
        sink,
        background=background,
        max_bytes=settings.PAYLOAD_QUEUE_BYTES,
        flush_seconds=settings.PAYLOAD_FLUSH_SECONDS,
        # CloudEvents are retried one by one inside the sink, not as a batch.
        retries=0 if sink.name == CLOUDEVENTS else settings.PAYLOAD_SINK_RETRIES,
    )


def _build(name: str) -> Sink:
    if name == FILE:
        from predictions.payloads.sinks.jsonl import JsonLinesSink

        return JsonLinesSink(
            settings.PAYLOAD_LOG_FILE,
            max_bytes=settings.PAYLOAD_LOG_FILE_MAX_BYTES,
            backups=settings.PAYLOAD_LOG_FILE_BACKUPS,
        )
    if name == CLOUDEVENTS:
        from predictions.payloads.sinks.cloudevents import CloudEventsSink

        return CloudEventsSink(
            settings.PAYLOAD_CLOUDEVENTS_URL,
            source=settings.PAYLOAD_CLOUDEVENTS_SOURCE,
            namespace=settings.PAYLOAD_CLOUDEVENTS_NAMESPACE,
            timeout_seconds=settings.PAYLOAD_CLOUDEVENTS_TIMEOUT_SECONDS,
            retries=settings.PAYLOAD_SINK_RETRIES,
        )
    from predictions.payloads.sinks.database import DatabaseSink

    return DatabaseSink()


def set_writers(writers: dict[str, SinkWriter | None] | None) -> dict[str, SinkWriter | None]:
    """Replace this process's writers (tests; None: build them again from settings)."""
    global _writers
    with _lock:
        previous, _writers = _writers, dict(writers or {})
    return previous


def flush() -> int:
    """Write every queued record now (tests, shutdown); the number written."""
    return sum(w.flush() for w in list(_writers.values()) if w is not None)


def shutdown() -> None:
    for sink_writer in list(_writers.values()):
        if sink_writer is not None:
            sink_writer.stop()


atexit.register(shutdown)
