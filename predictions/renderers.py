"""Response bodies: orjson with numpy arrays written directly (see tfserving.jsonio)."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.renderers import BaseRenderer

from predictions.tfserving import jsonio


class TFServingJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None  # JSON is UTF-8 by definition (RFC 8259); no charset parameter

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        body = jsonio.dumps(data)
        indent = (renderer_context or {}).get("indent")
        if indent:
            # Only the browsable API asks for indentation; the standard library keeps
            # TF Serving's NaN/Infinity tokens when re-formatting.
            return json.dumps(json.loads(body), indent=indent).encode()
        return body
