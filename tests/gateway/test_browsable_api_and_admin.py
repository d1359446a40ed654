"""People use the gateway by hand: the browsable API on every endpoint, and the admin."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from predictions.access import services
from predictions.models import ApiKey, AuditRecord
from tests.gateway.conftest import PASSWORD, make_user

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
    ("path", "status", "name"),
    [
        ("/v1/models", 200, "Model List"),
        ("/v1/models/half_plus_two", 200, "Model Status"),
        ("/v1/models/half_plus_two/versions/1/metadata", 200, "Model Metadata"),
        ("/v1/auth/token", 405, "Token Obtain"),  # POST only: the page offers the form
        ("/readyz", 200, "Readiness"),
    ],
)
def test_endpoints_render_as_html_for_a_logged_in_browser(
    browser: Client, path: str, status: int, name: str
) -> None:
    response = browser.get(path, **HTML)

    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert f"<title>{name} \N{EN DASH} TF Serving gateway</title>".encode() in response.content


def test_model_list_page_links_each_model(browser: Client) -> None:
    response = browser.get("/v1/models", **HTML)

    assert b"http://testserver/v1/models/iris:predict" in response.content


def test_predict_page_offers_a_form_to_post_a_body(browser: Client) -> None:
    response = browser.get("/v1/models/half_plus_two:predict", **HTML)

    assert response["Content-Type"].startswith("text/html")
    assert re.search(rb'<form[^>]+method="POST"', response.content)


def test_inference_page_names_the_model_and_signature_and_shows_no_405(browser: Client) -> None:
    response = browser.get("/v1/models/half_plus_two/labels/stable:predict", **HTML)
    page = html.unescape(response.content.decode())

    assert response.status_code == 200
    assert "<h1>Predict: half_plus_two, label stable, signature serving_default</h1>" in page
    assert '"x": "float tensor of shape [-1]"' in page
    assert '"y": "float tensor of shape [-1]"' in page
    assert "405" not in page


def test_classify_page_shows_the_signature_its_form_uses(browser: Client) -> None:
    response = browser.get("/v1/models/iris:classify", **HTML)
    page = html.unescape(response.content.decode())

    assert "<h1>Classify: iris, signature classification</h1>" in page
    assert '"method_name": "tensorflow/serving/classify"' in page


def test_inference_page_of_a_model_without_grant_is_the_unknown_model_404(
    model_server_address: str,
) -> None:
    make_user("bob", "iris")
    browser = Client()
    assert browser.login(username="bob", password=PASSWORD)

    hidden = browser.get("/v1/models/half_plus_two:predict", **HTML)
    unknown = browser.get("/v1/models/nope:predict", **HTML)

    assert (hidden.status_code, unknown.status_code) == (404, 404)
    assert b"Servable not found for request: Latest(half_plus_two)" in hidden.content


def test_api_clients_still_get_405_for_get_on_predict_and_no_get_in_allow(
    browser: Client,
) -> None:
    response = browser.get("/v1/models/half_plus_two:predict", HTTP_ACCEPT="application/json")

    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"


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


def test_log_out_is_a_form_that_needs_no_inline_script(browser: Client) -> None:
    page = browser.get("/v1/models", HTTP_ACCEPT="text/html").content.decode()

    assert "onclick" not in page
    assert '<form method="post" action="/api-auth/logout/?next=/v1/models">' in page
    assert browser.post("/api-auth/logout/?next=/v1/models").status_code == 302
    assert browser.get("/v1/models", HTTP_ACCEPT="application/json").status_code in (401, 403)
