"""The buffering proxy's nginx template renders into the config it is meant to be.

nginx itself checks the rendered file when the proxy container starts (the compose
test); these checks need neither nginx nor Docker.
"""

from __future__ import annotations

import json
import re

from tests.deploy.conftest import ROOT

PROXY = ROOT / "deploy" / "proxy"

TEMPLATE_NAME = re.compile(r"\$\{([A-Z_]+)\}")
RENDERED_WITH = {
    "PROXY_LISTEN_PORT": "8080",
    "GATEWAY_UPSTREAM": "gateway:8000",
    "MAX_REQUEST_BYTES": "33554432",
    "PROXY_FORWARDED_PROTO": "$scheme",
    "PROXY_RESOLVER": "127.0.0.11",
    "PROXY_STATE_DIR": "/tmp/nginx",
}


def rendered_template() -> str:
    """nginx.conf.template as run-nginx.sh's envsubst renders it with RENDERED_WITH."""
    return TEMPLATE_NAME.sub(
        lambda match: RENDERED_WITH[match.group(1)], (PROXY / "nginx.conf.template").read_text()
    )


def test_run_nginx_substitutes_exactly_the_names_the_template_uses() -> None:
    script = (PROXY / "run-nginx.sh").read_text()
    (substituted,) = re.findall(r"envsubst '([^']+)'", script)
    template = (PROXY / "nginx.conf.template").read_text()

    assert set(TEMPLATE_NAME.findall(substituted)) == set(TEMPLATE_NAME.findall(template))
    assert set(TEMPLATE_NAME.findall(template)) == set(RENDERED_WITH)


def test_proxy_caps_bodies_and_buffers_requests_and_responses() -> None:
    config = rendered_template()

    assert "client_max_body_size 33554432;" in config
    assert "proxy_request_buffering on;" in config
    assert "proxy_buffering on;" in config
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in config
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in config
    for timeout in ("client_header_timeout", "client_body_timeout", "send_timeout"):
        assert re.search(rf"^\s*{timeout} \d+s;$", config, flags=re.MULTILINE), timeout


def proxy_error_pages(config: str) -> dict[str, tuple[int, dict[str, str]]]:
    """error_page code -> (status, JSON body) of the location it names."""
    pages = dict(re.findall(r"^\s*error_page (\d+) (\S+);$", config, flags=re.MULTILINE))
    answers = dict(
        re.findall(r"location = (\S+) \{[^}]*?return (\d+ '[^']*');", config, flags=re.DOTALL)
    )
    result = {}
    for code, uri in pages.items():
        status, body = answers[uri].split(" ", 1)
        result[code] = (int(status), json.loads(body.strip("'").replace("\\n", "")))
    return result


def test_proxy_answers_its_own_errors_as_json_like_the_gateway() -> None:
    pages = proxy_error_pages(rendered_template())

    assert {code: (status, body["code"]) for code, (status, body) in pages.items()} == {
        "400": (400, "bad_request"),
        "494": (400, "bad_request"),
        "404": (404, "not_found"),
        "413": (413, "payload_too_large"),
        "414": (414, "uri_too_long"),
        "500": (500, "internal"),
        "501": (501, "not_implemented"),
        "502": (502, "bad_gateway"),
        "504": (504, "gateway_timeout"),
        "505": (505, "http_version_not_supported"),
    }
    assert all(set(body) == {"error", "code"} for _, body in pages.values())


def test_proxy_error_locations_are_internal() -> None:
    config = rendered_template()
    blocks = re.findall(r"location = /_proxy/error/\d+ \{([^}]*)\}", config)

    assert len(blocks) == 10
    assert all("internal;" in block for block in blocks)
