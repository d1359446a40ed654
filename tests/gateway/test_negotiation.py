"""The negotiation shortcut picks what DRF's own negotiation picks, for every Accept."""

from __future__ import annotations

import pytest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.test import APIRequestFactory

from predictions.api.negotiation import JSONFirstNegotiation

ACCEPTS = [
    None,
    "",
    "*/*",
    "application/json",
    " application/json ",
    "text/html",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "application/json; indent=4",
    "application/json;q=0.5, text/html",
    "image/png",
]


def request_with(accept: str | None, query: str = "") -> Request:
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    return Request(APIRequestFactory().post("/v1/models/m:predict" + query, **headers))


def renderers() -> list:
    return [renderer() for renderer in api_settings.DEFAULT_RENDERER_CLASSES]


def outcome(negotiation: DefaultContentNegotiation, request: Request) -> tuple[type, str] | str:
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers())
    except Exception as error:  # NotAcceptable: both must refuse alike
        return type(error).__name__
    return type(renderer), media_type


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", ["", "?format=api", "?format=json"])
def test_the_shortcut_chooses_what_drf_chooses(accept: str | None, query: str) -> None:
    ours = outcome(JSONFirstNegotiation(), request_with(accept, query))
    drf = outcome(DefaultContentNegotiation(), request_with(accept, query))

    assert ours == drf


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_the_common_accepts_are_not_parsed(
    accept: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def parse(self: object, request: Request) -> None:
        raise AssertionError("parsed")

    monkeypatch.setattr(DefaultContentNegotiation, "_get_parsed_accept_list", parse)

    _, media_type = JSONFirstNegotiation().select_renderer(request_with(accept), renderers())

    assert media_type == "application/json"
