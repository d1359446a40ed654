"""Bodies too deep, too many elements or too large are refused before they cost memory."""

from __future__ import annotations

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest
from django.contrib.auth.models import User
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from rest_framework.test import APIClient

from predictions.models import AuditRecord
from serving_project.wsgi import application
from tests.gateway.conftest import access_token

pytestmark = pytest.mark.django_db

PREDICT = "/v1/models/half_plus_two:predict"


def post_raw(client: APIClient, path: str, body: bytes):
    return client.generic("POST", path, body, content_type="application/json")


def test_json_nested_deeper_than_the_limit_is_400_before_parsing(
    gateway: APIClient, settings
) -> None:
    settings.MAX_JSON_DEPTH = 3

    response = post_raw(gateway, PREDICT, b'{"instances": [[[1.0]]]}')

    assert response.status_code == 400
    assert response.json() == {
        "error": "JSON body is nested more than 3 levels deep",
        "code": "invalid_argument",
    }


def test_default_depth_limit_refuses_nesting_the_parser_would_accept(gateway: APIClient) -> None:
    depth = 500  # orjson itself accepts up to 1024
    body = b'{"instances": ' + b"[" * depth + b"1.0" + b"]" * depth + b"}"

    response = post_raw(gateway, PREDICT, body)

    assert response.status_code == 400
    assert response.json()["error"] == "JSON body is nested more than 32 levels deep"


def test_json_with_more_elements_than_the_limit_is_400(gateway: APIClient, settings) -> None:
    settings.MAX_JSON_ELEMENTS = 5

    response = post_raw(gateway, PREDICT, b'{"instances": [1.0, 2.0, 5.0]}')

    assert response.status_code == 400
    assert response.json() == {
        "error": "JSON body has more than 5 elements (values and object keys)",
        "code": "invalid_argument",
    }


def test_json_with_exactly_the_allowed_elements_is_predicted(gateway: APIClient, settings) -> None:
    settings.MAX_JSON_ELEMENTS = 6  # the object, its key, the array and three numbers

    response = post_raw(gateway, PREDICT, b'{"instances": [1.0, 2.0, 5.0]}')

    assert response.status_code == 200
    assert response.json() == {"predictions": [3.5, 4.0, 5.5]}


def test_refused_bodies_are_audited_as_invalid_arguments(gateway: APIClient, settings) -> None:
    settings.MAX_JSON_ELEMENTS = 5

    post_raw(gateway, PREDICT, b'{"instances": [1.0, 2.0, 5.0]}')

    record = AuditRecord.objects.get()
    assert (record.http_status, record.error_code, record.request_bytes) == (
        400,
        "invalid_argument",
        30,
    )


def test_token_endpoint_applies_the_same_limits(settings) -> None:
    settings.MAX_JSON_DEPTH = 1

    response = post_raw(APIClient(), "/v1/auth/token", b'{"username": ["alice"]}')

    assert response.status_code == 400
    assert response.json()["error"] == "JSON body is nested more than 1 levels deep"


# --- chunked bodies (no Content-Length), as gunicorn hands them over -------------------


def call_wsgi(path: str, body: bytes, headers: dict[str, str]) -> tuple[str, dict]:
    """Runs the WSGI application with a de-chunked body, as gunicorn presents it."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        **headers,
    }
    setup_testing_defaults(environ)
    statuses = []
    # As Django's test client does: keep the test's transaction (and its connection) open.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        chunks = application(environ, lambda status, response_headers: statuses.append(status))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return statuses[0], json.loads(b"".join(chunks))


def test_chunked_body_without_content_length_is_read(
    alice: User, model_server_address: str
) -> None:
    status, body = call_wsgi(
        PREDICT,
        b'{"instances": [1.0, 2.0, 5.0]}',
        {"HTTP_AUTHORIZATION": f"Bearer {access_token(alice)}"},
    )

    assert (status, body) == ("200 OK", {"predictions": [3.5, 4.0, 5.5]})
    assert AuditRecord.objects.get().request_bytes == 30


def test_chunked_body_over_the_limit_is_413(alice: User, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000

    status, body = call_wsgi(
        PREDICT,
        b'{"instances": [' + b"1.0," * 2_000 + b"1.0]}",
        {"HTTP_AUTHORIZATION": f"Bearer {access_token(alice)}"},
    )

    assert status == "413 Request Entity Too Large"
    assert body == {
        "error": "Request body is larger than the allowed maximum",
        "code": "payload_too_large",
    }


# --- Django's own request limits, inside and outside the API's views -------------------


def form_with_fields(count: int) -> str:
    return "&".join(f"field{index}=1" for index in range(count))


def test_too_many_form_fields_to_the_token_view_is_a_json_400(settings) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 1_000

    response = APIClient().post(
        "/v1/auth/token", form_with_fields(1_500), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "Too many form fields: at most 1000 are accepted",
        "code": "invalid_argument",
    }
    assert AuditRecord.objects.get().http_status == 400


def test_too_many_files_to_the_token_view_is_a_json_400(settings) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 100
    files = {f"file{index}": io.BytesIO(b"x") for index in range(150)}

    response = APIClient().post("/v1/auth/token", files, format="multipart")

    assert response.status_code == 400
    assert response.json() == {
        "error": "Too many files: at most 100 are accepted",
        "code": "invalid_argument",
    }


@pytest.mark.parametrize("form_format", ["multipart", "urlencoded"])
def test_a_form_over_the_limit_to_the_token_view_is_413_before_it_is_read(
    settings, form_format: str
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    client = APIClient()
    if form_format == "multipart":
        body = {"username": "alice", "password": "x", "upload": io.BytesIO(b"x" * 5_000)}
        response = client.post("/v1/auth/token", body, format="multipart")
    else:
        body = "username=alice&password=" + "x" * 5_000
        response = client.post(
            "/v1/auth/token", body, content_type="application/x-www-form-urlencoded"
        )

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_too_many_fields_to_a_login_page_is_a_json_400(settings) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 1_000

    response = APIClient().post(
        "/admin/login/", form_with_fields(1_500), content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert response.json()["error"] == "Too many form fields: at most 1000 are accepted"


def test_a_host_header_not_allowed_is_a_json_400(settings) -> None:
    settings.ALLOWED_HOSTS = ["gateway.example"]

    response = APIClient().get("/v1/models", HTTP_HOST="elsewhere.example")

    assert response.status_code == 400
    assert response.json() == {"error": "Invalid Host header", "code": "invalid_argument"}
