"""Give back what a large request took, right after it, instead of at some later time.

A large predict holds about fourteen times its body at its peak (the bytes, the parsed
JSON, the TensorProtos and their serialized form, the response proto, the rendered
JSON). Part of it is held by reference cycles among the request, response and view
objects, which only the cyclic garbage collector frees, and it runs by object counts,
not bytes: a gthread worker sent 8 concurrent 12 MB bodies 7 times grew from 0.2 to
1.3 GB. What is freed, glibc keeps below the top of its arenas. So after a request or
an answer of at least TRIM_AFTER_BYTES, the worker collects cycles and calls
``malloc_trim(0)`` (a few milliseconds, small beside the work of such a request); the
same worker then stayed at 0.2-0.3 GB. Without glibc (musl, macOS) only the collection
runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable, Mapping
from typing import Any

TRIM_AFTER_BYTES = 1024 * 1024


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    return getattr(ctypes.CDLL(name), "malloc_trim", None)


_MALLOC_TRIM = _malloc_trim()


def after_request(wsgi_request: Mapping[str, Any], response: object) -> None:
    """Collect cycles and trim the heap if this request or its answer (gunicorn's
    response, which counts the bytes it sent) was large."""
    request_bytes = int(wsgi_request.get("CONTENT_LENGTH") or 0)
    if max(request_bytes, getattr(response, "sent", 0) or 0) < TRIM_AFTER_BYTES:
        return
    gc.collect()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
