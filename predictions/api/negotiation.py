"""Content negotiation that answers the common case without parsing.

Almost every API call sends no Accept header, ``*/*`` or ``application/json``; for
those DRF's negotiation always picks the first renderer (TF Serving's JSON), after
parsing the header and matching it against every renderer. Here they get the same
choice at once; anything else (a browser's Accept, ``?format=``, a format suffix)
goes through DRF's negotiation unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

# No Accept header (None) and the two values clients send; an empty header is not one of
# them (DRF answers it 406).
_FIRST_RENDERER_ACCEPTS = frozenset({None, "*/*", "application/json"})


class JSONFirstNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self,
        request: Request,
        renderers: Sequence[BaseRenderer],
        format_suffix: str | None = None,
    ) -> tuple[BaseRenderer, str]:
        accept = request.META.get("HTTP_ACCEPT")
        first = renderers[0] if renderers else None
        if (
            first is not None
            and accept in _FIRST_RENDERER_ACCEPTS
            and first.media_type == "application/json"
            and not format_suffix
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
