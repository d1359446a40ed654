"""Logins and tokens under hostile input: password guessing is locked out on every login path,
refresh tokens rotate once and a reuse revokes the login, tokens are never cached, odd claims
are 401, and production refuses a weak secret key."""

from __future__ import annotations

import jwt
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from tests.gateway.conftest import PASSWORD, access_token
from tests.gateway.test_settings_and_security import manage

LIMIT = 5
LOCKOUT_SECONDS = 900
LOCKED_OUT = {
    "error": "Too many failed logins for this username or from this address. "
    "Expected available in 900 seconds.",
    "code": "throttled",
}


@pytest.fixture(autouse=True)
def login_limits(settings: Settings) -> None:
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.THROTTLE_TOKEN_RATE = ""  # the per-address token throttle is tested on its own


def obtain(password: str, username: str = "alice", **headers: str):
    return APIClient().post(
        "/v1/auth/token", {"username": username, "password": password}, format="json", **headers
    )


def guess_wrong(times: int, username: str = "alice", **headers: str) -> list[int]:
    return [obtain("wrong guess", username, **headers).status_code for _ in range(times)]


# --- password guessing ----------------------------------------------------------------


def test_token_view_locks_a_username_out_after_the_failure_limit_even_for_the_right_password(
    alice: User,
) -> None:
    failures = guess_wrong(LIMIT)

    response = obtain(PASSWORD)

    assert failures == [401] * (LIMIT - 1) + [429]
    assert response.status_code == 429
    assert response.json() == LOCKED_OUT
    assert response["Retry-After"] == str(LOCKOUT_SECONDS)


def test_token_view_locks_out_an_address_guessing_many_usernames(alice: User) -> None:
    for number in range(LIMIT):
        obtain("wrong guess", username=f"nobody{number}")

    response = obtain(PASSWORD)

    assert response.status_code == 429
    assert response.json() == LOCKED_OUT


def test_forged_x_forwarded_for_does_not_give_each_guess_a_new_address(alice: User) -> None:
    for number in range(LIMIT):
        obtain("wrong guess", username=f"nobody{number}", HTTP_X_FORWARDED_FOR=f"10.0.0.{number}")

    response = obtain(PASSWORD, HTTP_X_FORWARDED_FOR="10.0.0.99")

    assert response.status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(
    alice: User, settings: Settings
) -> None:
    settings.REST_FRAMEWORK = {**django_settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for number in range(LIMIT):
        obtain("wrong guess", username=f"nobody{number}", HTTP_X_FORWARDED_FOR="203.0.113.7")

    other_client = obtain(PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.2")
    guesser = obtain(PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7")

    assert other_client.status_code == 200
    assert guesser.status_code == 429


@pytest.mark.parametrize("login_path", ["/admin/login/", "/api-auth/login/"])
def test_login_pages_lock_a_username_out_with_a_clear_message(login_path: str, alice: User) -> None:
    alice.is_staff = True
    alice.save()
    client = Client()
    failures = [
        client.post(login_path, {"username": "alice", "password": "wrong guess"}).status_code
        for _ in range(LIMIT)
    ]

    response = client.post(login_path, {"username": "alice", "password": PASSWORD})

    assert failures == [200] * (LIMIT - 1) + [429]
    assert response.status_code == 429
    assert response["Retry-After"] == str(LOCKOUT_SECONDS)
    assert (
        "Too many failed logins for this username or from this address. "
        "Try again in 900 seconds." in response.content.decode()
    )
    assert "_auth_user_id" not in client.session


def test_failures_below_the_limit_do_not_stop_the_right_password(alice: User) -> None:
    guess_wrong(LIMIT - 1)

    assert obtain(PASSWORD).status_code == 200


# --- refresh rotation -----------------------------------------------------------------


def refresh(token: str):
    return APIClient().post("/v1/auth/token/refresh", {"refresh": token}, format="json")


def test_reusing_a_rotated_refresh_token_revokes_every_token_of_that_login(alice: User) -> None:
    first = obtain(PASSWORD).json()["refresh"]
    second = refresh(first).json()["refresh"]

    reused = refresh(first)
    after_reuse = refresh(second)

    assert reused.status_code == 401
    assert reused.json() == {
        "error": "Refresh token was already used: every token of this login is revoked, "
        "log in again",
        "code": "token_reused",
    }
    assert after_reuse.status_code == 401


def test_a_reuse_leaves_the_users_other_logins_alone(alice: User) -> None:
    stolen = obtain(PASSWORD).json()["refresh"]
    other_login = obtain(PASSWORD).json()["refresh"]
    refresh(stolen)

    refresh(stolen)

    assert refresh(other_login).status_code == 200


def test_rotation_keeps_going_within_a_family(alice: User) -> None:
    token = obtain(PASSWORD).json()["refresh"]
    statuses = []
    for _ in range(3):
        response = refresh(token)
        statuses.append(response.status_code)
        token = response.json()["refresh"]

    assert statuses == [200, 200, 200]


# --- token responses and claims ---------------------------------------------------------


def test_token_responses_are_never_stored_by_caches(alice: User) -> None:
    tokens = obtain(PASSWORD)
    refreshed = refresh(tokens.json()["refresh"])
    verified = APIClient().post(
        "/v1/auth/token/verify", {"token": tokens.json()["access"]}, format="json"
    )
    failed = obtain("wrong guess")

    assert [r.status_code for r in (tokens, refreshed, verified, failed)] == [200, 200, 200, 401]
    assert [r["Cache-Control"] for r in (tokens, refreshed, verified, failed)] == ["no-store"] * 4


@pytest.mark.parametrize("user_id", ["abc", "1.5", 1.5, True, None, -1, 2**70, ["1"]])
def test_validly_signed_token_with_a_non_integer_user_id_is_401(
    user_id: object, alice: User
) -> None:
    payload = jwt.decode(access_token(alice), django_settings.SECRET_KEY, algorithms=["HS256"]) | {
        "user_id": user_id
    }
    token = jwt.encode(payload, django_settings.SECRET_KEY, algorithm="HS256")

    response = APIClient().get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_verify_refuses_the_token_of_a_deactivated_user(alice: User) -> None:
    token = access_token(alice)
    alice.is_active = False
    alice.save()

    response = APIClient().post("/v1/auth/token/verify", {"token": token}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "no_active_account"


# --- the signing key ------------------------------------------------------------------


@pytest.mark.parametrize("key", ["abc", "x" * 64, "django-insecure-" + "k3Zb8s9f8e7d6c5b4a3" * 3])
def test_production_refuses_to_start_with_a_weak_secret_key(key: str) -> None:
    result = manage("check", DJANGO_ENV="production", DJANGO_SECRET_KEY=key)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is too weak for production" in result.stderr
