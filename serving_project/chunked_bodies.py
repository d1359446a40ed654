"""Request bodies sent with ``Transfer-Encoding: chunked`` (no Content-Length).

Django reads exactly CONTENT_LENGTH bytes of a body, so a chunked body, which
gunicorn de-chunks and marks with ``wsgi.input_terminated``, looks empty to it: a
predict call would fail with "Missing 'inputs' or 'instances' key" and a body of
any size would pass MAX_REQUEST_BYTES unread. This WSGI wrapper reads such a body,
up to one byte more than the limit, and hands Django a sized body: the parsers
then accept it or answer 413 as for any other body, and it is audited with its size.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

WSGIApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SizedChunkedBodies:
    def __init__(self, application: WSGIApplication) -> None:
        self.application = application

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if _is_unsized_chunked_body(environ):
            # More than this is refused anyway; one byte over is enough to say so.
            body = environ["wsgi.input"].read(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.application(environ, start_response)


def _is_unsized_chunked_body(environ: dict[str, Any]) -> bool:
    # Only a server that ends wsgi.input at the end of the body (PEP 3333's
    # wsgi.input_terminated) can be read to the end without hanging.
    return (
        not environ.get("CONTENT_LENGTH")
        and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        and bool(environ.get("wsgi.input_terminated"))
    )
