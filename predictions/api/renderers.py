"""Response bodies: orjson with numpy arrays written directly (see tfserving.jsonio), and
the browsable API's HTML."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.urls import resolve
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer

from predictions.api import examples
from tfserving import jsonio

MALFORMED_REQUEST = "malformed-request"  # the URL name of the catch-all under /v1/

if TYPE_CHECKING:  # DRF imports its renderers while rest_framework.views is loading
    from django import forms
    from rest_framework.request import Request
    from rest_framework.views import APIView


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


class GatewayBrowsableAPIRenderer(BrowsableAPIRenderer):
    """DRF's browsable API, with the raw-data form of an inference endpoint pre-filled.

    A view offering ``example_request_body(request)`` (see views._InferenceView) fills
    the form with a body its model accepts, so POST answers straight away.
    """

    def get_breadcrumbs(self, request: Request) -> list[tuple[str, str]]:
        # "/v1/" alone is no page (the catch-all answers it with a 404): no crumb for it.
        return [
            (name, url)
            for name, url in super().get_breadcrumbs(request)
            if resolve(url).url_name != MALFORMED_REQUEST
        ]

    def get_raw_data_form(
        self, data: Any, view: APIView, method: str, request: Request
    ) -> forms.Form | None:
        form = super().get_raw_data_form(data, view, method, request)
        example_body = getattr(view, "example_request_body", None)
        if form is None or method != "POST" or example_body is None:
            return form
        body = example_body(request)
        if body is not None:
            form.fields["_content"].initial = examples.format_body(body)
        return form
