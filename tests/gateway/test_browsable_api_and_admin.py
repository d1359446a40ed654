"""People use the gateway by hand: the browsable API on every endpoint, and the admin."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from predictions import services
from predictions.models import ApiKey, AuditRecord
from tests.gateway.conftest import PASSWORD

pytestmark = pytest.mark.django_db

HTML = {"HTTP_ACCEPT": "text/html"}


@pytest.fixture
def browser(alice: User, model_server_address: str) -> Client:
    client = Client()
    assert client.login(username="alice", password=PASSWORD)
    return client


def test_login_page_of_the_browsable_api_renders() -> None:
    response = Client().get("/api-auth/login/")

    assert response.status_code == 200
    assert b'name="password"' in response.content


@pytest.mark.parametrize(
    "path",
    [
        "/v1/models",
        "/v1/models/half_plus_two",
        "/v1/models/half_plus_two/versions/1/metadata",
        "/v1/auth/token",
        "/readyz",
    ],
)
def test_endpoints_render_as_html_for_a_logged_in_browser(browser: Client, path: str) -> None:
    response = browser.get(path, **HTML)

    assert response.status_code in (200, 405)
    assert response["Content-Type"].startswith("text/html")
    assert b"djangorestframework" in response.content or b"rest_framework" in response.content


def test_model_list_page_links_each_model(browser: Client) -> None:
    response = browser.get("/v1/models", **HTML)

    assert b"http://testserver/v1/models/iris:predict" in response.content


def test_predict_page_offers_a_form_to_post_a_body(browser: Client) -> None:
    response = browser.get("/v1/models/half_plus_two:predict", **HTML)

    assert response["Content-Type"].startswith("text/html")
    assert re.search(rb'<form[^>]+method="POST"', response.content)


def test_logged_in_browser_can_predict_with_its_session(browser: Client) -> None:
    response = browser.post(
        "/v1/models/half_plus_two:predict",
        data='{"instances": [1.0]}',
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json() == {"predictions": [3.5]}


def test_session_post_without_csrf_token_is_refused() -> None:
    User.objects.create_user("erin", password=PASSWORD)
    client = APIClient(enforce_csrf_checks=True)
    client.login(username="erin", password=PASSWORD)

    response = client.post("/v1/models/half_plus_two:predict", {"instances": [1]}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.fixture
def admin_client(db) -> Client:
    User.objects.create_superuser("admin", password=PASSWORD)
    client = Client()
    client.login(username="admin", password=PASSWORD)
    return client


def test_admin_creates_an_api_key_and_shows_it_once(
    admin_client: Client, alice: User, model_server_address: str
) -> None:
    response = admin_client.post(
        "/admin/predictions/apikey/add/",
        {"owner": alice.pk, "name": "from the admin", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
    )

    messages = " ".join(str(m) for m in response.context["messages"])
    key = re.search(r"API key for alice: (\S+)", messages).group(1)
    shown_again = admin_client.get(f"/admin/predictions/apikey/{ApiKey.objects.get().pk}/change/")
    predicted = APIClient().post(
        "/v1/models/half_plus_two:predict", {"instances": [1]}, format="json", HTTP_X_API_KEY=key
    )
    assert key.encode() not in shown_again.content
    assert predicted.status_code == 200


def test_admin_revokes_api_keys(admin_client: Client, alice: User) -> None:
    issued = services.issue_api_key(alice, "to revoke")

    admin_client.post(
        "/admin/predictions/apikey/",
        {"action": "revoke", "_selected_action": [issued.api_key.pk]},
    )

    issued.api_key.refresh_from_db()
    assert issued.api_key.is_revoked


def test_admin_lists_audit_records_read_only(admin_client: Client, gateway: APIClient) -> None:
    gateway.post("/v1/models/half_plus_two:predict", {"instances": [1]}, format="json")
    record = AuditRecord.objects.get()

    listing = admin_client.get("/admin/predictions/auditrecord/?method=predict")
    detail = admin_client.get(f"/admin/predictions/auditrecord/{record.pk}/change/")
    add = admin_client.get("/admin/predictions/auditrecord/add/")

    assert listing.status_code == 200
    assert record.request_id.encode() in listing.content
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    assert add.status_code == 403


def test_admin_user_page_edits_model_grants(admin_client: Client, alice: User) -> None:
    response = admin_client.get(f"/admin/auth/user/{alice.pk}/change/")

    assert b"model_grants-TOTAL_FORMS" in response.content
