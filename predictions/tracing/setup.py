"""Tracing for this process: set up once per worker, on its first request.

The SDK is configured after gunicorn forks, not at import (gunicorn preloads the app in
its master): an OTLP/gRPC exporter opens a channel and the batch processor a thread, and
neither may cross ``fork()``.
"""

from __future__ import annotations

import atexit
import os
import threading

from django.conf import settings

from tfserving import tracing

SERVICE_NAME = "tfserving-gateway"  # OTEL_SERVICE_NAME's default

_lock = threading.Lock()
_configured_in: int | None = None  # the process id that configured it


def ensure_configured() -> None:
    """Configure tracing from OTEL_* in this process unless it already is (or a test did)."""
    global _configured_in
    if _configured_in == os.getpid():
        return
    with _lock:
        if _configured_in == os.getpid():
            return
        installed_directly = _configured_in is None and tracing.enabled()  # by a test
        if not installed_directly:
            tracing.configure(settings.TRACING_EXPORTERS, service_name=SERVICE_NAME)
            atexit.register(tracing.shutdown)
        _configured_in = os.getpid()
