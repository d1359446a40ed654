"""Production refuses unsafe settings; security headers are set; CORS is closed by default."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from rest_framework.test import APIClient

from serving_project.content_security import POLICY
from tests.support.processes import ROOT

REAL_SECRET = "k3Zb8s-generated-for-tests-only-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_with_the_development_secret_key() -> None:
    result = manage("check", DJANGO_ENV="production")

    assert result.returncode != 0
    assert "DJANGO_ENV=production needs DJANGO_SECRET_KEY set to a real secret" in result.stderr


def test_production_refuses_to_start_with_debug_on() -> None:
    result = manage(
        "check", DJANGO_ENV="production", DJANGO_SECRET_KEY=REAL_SECRET, DJANGO_DEBUG="1"
    )

    assert result.returncode != 0
    assert "DJANGO_ENV=production refuses DJANGO_DEBUG=1" in result.stderr


def test_production_settings_pass_djangos_deployment_checks() -> None:
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=REAL_SECRET,
    )

    assert result.returncode == 0, result.stderr
    # Exactly one check is silenced: HSTS preload (security.W021), an opt-in commitment.
    assert result.stdout == "System check identified no issues (1 silenced).\n"


def test_opting_into_hsts_preload_leaves_no_check_silenced() -> None:
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=REAL_SECRET,
        SECURE_HSTS_PRELOAD="1",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "System check identified no issues (0 silenced).\n"


def test_malformed_variable_is_refused_naming_it() -> None:
    result = manage("check", TFSERVING_RETRIES="many")

    assert result.returncode != 0
    assert "TFSERVING_RETRIES must be an integer (got 'many')" in result.stderr


@pytest.mark.django_db
def test_responses_carry_security_headers() -> None:
    response = APIClient().get("/healthz")

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_cors_is_closed_by_default() -> None:
    response = APIClient().options(
        "/v1/models",
        HTTP_ORIGIN="https://evil.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )

    assert "Access-Control-Allow-Origin" not in response


@pytest.mark.django_db
def test_cors_allows_configured_origins_with_the_api_headers(settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]

    response = APIClient().options(
        "/v1/models",
        HTTP_ORIGIN="https://app.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, x-api-key",
    )

    assert response["Access-Control-Allow-Origin"] == "https://app.example"
    assert "x-api-key" in response["Access-Control-Allow-Headers"]


@pytest.mark.django_db
def test_cors_lets_browser_clients_read_the_request_ids(settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example"]

    response = APIClient().get(
        "/v1/models", HTTP_ORIGIN="https://app.example", HTTP_X_REQUEST_ID="browser-1"
    )

    exposed = response["Access-Control-Expose-Headers"].split(", ")
    assert {"x-request-id", "x-client-request-id"} <= set(exposed)
    assert response["X-Client-Request-ID"] == "browser-1"


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_without_inline_scripts(client) -> None:
    docs = client.get("/v1/docs")
    welcome = client.get("/")
    scripts = re.findall(r'<script src="([^"]+)"', docs.content.decode())

    assert docs["Content-Security-Policy"] == welcome["Content-Security-Policy"] == POLICY
    assert "script-src 'self';" in POLICY
    assert b"<script>" not in docs.content  # Swagger UI's start-up script is a file too
    assert [client.get(script).status_code for script in scripts] == [200] * 3


@pytest.mark.django_db
def test_json_answers_carry_no_content_security_policy(client) -> None:
    assert "Content-Security-Policy" not in client.get("/healthz")
