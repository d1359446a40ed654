"""Who may call: JWT (obtain, refresh with rotation, verify), API keys, failures."""

from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication

from predictions.access import services
from predictions.access.tokens import GatewayTokenObtainPairSerializer
from tests.gateway.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PREDICT = "/v1/models/half_plus_two:predict"
BODY = {"instances": [1.0]}


def predict_with(**headers: str):
    return APIClient().post(PREDICT, BODY, format="json", **headers)


def test_no_credentials_is_401_with_a_bearer_challenge(model_server_address: str) -> None:
    response = predict_with()

    assert response.status_code == 401
    assert response.json() == {
        "error": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_malformed_token_is_401_token_not_valid(model_server_address: str) -> None:
    response = predict_with(HTTP_AUTHORIZATION="Bearer not.a.jwt")

    assert response.status_code == 401
    assert response.json() == {
        "error": "Given token not valid for any token type: Token is invalid",
        "code": "token_not_valid",
    }


def test_token_signed_with_another_key_is_401(alice: User, model_server_address: str) -> None:
    token = GatewayTokenObtainPairSerializer.get_token(alice).access_token
    forged = str(token)[:-4] + ("AAAA" if not str(token).endswith("AAAA") else "BBBB")

    response = predict_with(HTTP_AUTHORIZATION=f"Bearer {forged}")

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_expired_token_is_401_saying_it_expired(alice: User, model_server_address: str) -> None:
    token = GatewayTokenObtainPairSerializer.get_token(alice).access_token
    token.set_exp(from_time=timezone.now() - timedelta(hours=1), lifetime=timedelta(minutes=5))

    response = predict_with(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 401
    assert response.json() == {
        "error": "Given token not valid for any token type: Token is expired",
        "code": "token_not_valid",
    }


def test_a_verified_token_is_not_decoded_again(
    alice: User, model_server_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = GatewayTokenObtainPairSerializer.get_token(alice).access_token
    first = predict_with(HTTP_AUTHORIZATION=f"Bearer {token}")

    def refuse(self: object, raw_token: bytes) -> None:
        raise AssertionError("decoded again")

    monkeypatch.setattr(JWTStatelessUserAuthentication, "get_validated_token", refuse)
    again = predict_with(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert (first.status_code, again.status_code) == (200, 200)


def test_a_verified_token_is_refused_once_it_expires(
    alice: User, model_server_address: str
) -> None:
    token = GatewayTokenObtainPairSerializer.get_token(alice).access_token
    token.set_exp(lifetime=timedelta(seconds=1))
    first = predict_with(HTTP_AUTHORIZATION=f"Bearer {token}")
    time.sleep(1.2)

    expired = predict_with(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert first.status_code == 200
    assert expired.status_code == 401
    assert expired.json() == {
        "error": "Given token not valid for any token type: Token is expired",
        "code": "token_not_valid",
    }


def test_refresh_token_is_not_accepted_as_an_access_token(
    alice: User, model_server_address: str
) -> None:
    refresh = GatewayTokenObtainPairSerializer.get_token(alice)

    response = predict_with(HTTP_AUTHORIZATION=f"Bearer {refresh}")

    assert response.status_code == 401


def test_token_endpoint_issues_tokens_that_predict(alice: User, model_server_address: str) -> None:
    tokens = APIClient().post(
        "/v1/auth/token", {"username": "alice", "password": PASSWORD}, format="json"
    )

    response = predict_with(HTTP_AUTHORIZATION=f"Bearer {tokens.json()['access']}")

    assert tokens.status_code == 200
    assert response.status_code == 200
    assert response.json() == {"predictions": [3.5]}


def test_token_endpoint_accepts_form_bodies(alice: User) -> None:
    response = APIClient().post("/v1/auth/token", {"username": "alice", "password": PASSWORD})

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}


def test_wrong_password_is_401(alice: User) -> None:
    response = APIClient().post(
        "/v1/auth/token", {"username": "alice", "password": "guess"}, format="json"
    )

    assert response.status_code == 401
    assert response.json() == {
        "error": "No active account found with the given credentials",
        "code": "no_active_account",
    }


def test_missing_password_is_400_naming_the_field(alice: User) -> None:
    response = APIClient().post("/v1/auth/token", {"username": "alice"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"error": "password: This field is required.", "code": "required"}


def test_refresh_rotates_and_blacklists_the_used_refresh_token(alice: User) -> None:
    client = APIClient()
    first = client.post(
        "/v1/auth/token", {"username": "alice", "password": PASSWORD}, format="json"
    ).json()

    rotated = client.post("/v1/auth/token/refresh", {"refresh": first["refresh"]}, format="json")
    reused = client.post("/v1/auth/token/refresh", {"refresh": first["refresh"]}, format="json")

    assert rotated.status_code == 200
    assert set(rotated.json()) == {"access", "refresh"}
    assert rotated.json()["refresh"] != first["refresh"]
    assert reused.status_code == 401
    assert reused.json()["code"] == "token_reused"  # and the login is revoked: see
    # test_logins_and_tokens.py


def test_refresh_token_of_a_deleted_user_is_401(alice: User) -> None:
    refresh = str(GatewayTokenObtainPairSerializer.get_token(alice))
    alice.delete()

    response = APIClient().post("/v1/auth/token/refresh", {"refresh": refresh}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "no_active_account"


def test_verify_accepts_a_valid_token_and_rejects_a_bad_one(alice: User) -> None:
    token = str(GatewayTokenObtainPairSerializer.get_token(alice).access_token)

    valid = APIClient().post("/v1/auth/token/verify", {"token": token}, format="json")
    invalid = APIClient().post("/v1/auth/token/verify", {"token": token + "x"}, format="json")

    assert valid.status_code == 200
    assert invalid.status_code == 401


def test_deactivated_users_token_no_longer_reaches_any_model(
    alice: User, alice_client: APIClient, model_server_address: str
) -> None:
    alice.is_active = False
    alice.save()

    response = alice_client.post(PREDICT, BODY, format="json")

    assert response.status_code == 404


# --- API keys ---------------------------------------------------------------------------


def test_api_key_in_authorization_header_predicts(alice: User, model_server_address: str) -> None:
    issued = services.issue_api_key(alice, "batch job")

    response = predict_with(HTTP_AUTHORIZATION=f"Api-Key {issued.key}")

    assert response.status_code == 200
    assert response.json() == {"predictions": [3.5]}


def test_api_key_in_x_api_key_header_predicts(alice: User, model_server_address: str) -> None:
    issued = services.issue_api_key(alice, "batch job")

    response = predict_with(HTTP_X_API_KEY=issued.key)

    assert response.status_code == 200


def test_api_key_is_stored_only_as_its_hash(alice: User) -> None:
    issued = services.issue_api_key(alice, "batch job")

    issued.api_key.refresh_from_db()
    assert issued.key not in (issued.api_key.key_hash, issued.api_key.prefix)
    assert issued.key.startswith(issued.api_key.prefix + ".")
    assert len(issued.api_key.key_hash) == 64


def test_unknown_api_key_is_401(model_server_address: str) -> None:
    response = predict_with(HTTP_X_API_KEY="0123456789ab.not-a-real-secret")

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid API key", "code": "invalid_api_key"}


def test_revoked_api_key_is_401_at_once(alice: User, model_server_address: str) -> None:
    issued = services.issue_api_key(alice, "batch job")
    assert predict_with(HTTP_X_API_KEY=issued.key).status_code == 200  # now cached

    services.revoke_api_key(issued.api_key)
    response = predict_with(HTTP_X_API_KEY=issued.key)

    assert response.status_code == 401
    assert response.json() == {"error": "API key has been revoked", "code": "api_key_revoked"}


def test_expired_api_key_is_401(alice: User, model_server_address: str) -> None:
    issued = services.issue_api_key(
        alice, "batch job", expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = predict_with(HTTP_X_API_KEY=issued.key)

    assert response.status_code == 401
    assert response.json() == {"error": "API key has expired", "code": "api_key_expired"}


def test_api_key_of_a_deactivated_owner_is_401(alice: User, model_server_address: str) -> None:
    issued = services.issue_api_key(alice, "batch job")
    assert predict_with(HTTP_X_API_KEY=issued.key).status_code == 200
    alice.is_active = False
    alice.save()

    response = predict_with(HTTP_X_API_KEY=issued.key)

    assert response.status_code == 401


def test_create_api_key_command_prints_a_working_key_once(
    alice: User, model_server_address: str
) -> None:
    out, err = StringIO(), StringIO()

    call_command(
        "create_api_key", "alice", "nightly", "--expires-days", "30", stdout=out, stderr=err
    )

    key = out.getvalue().strip()
    assert predict_with(HTTP_AUTHORIZATION=f"Api-Key {key}").status_code == 200
    assert key not in err.getvalue()
    assert alice.api_keys.get().expires_at > timezone.now() + timedelta(days=29)
