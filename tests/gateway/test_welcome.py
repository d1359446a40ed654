"""The front door: a visitor learns what this is and how to start; users land on their models."""

from __future__ import annotations

import html

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.gateway.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def welcome_page(client: Client) -> str:
    response = client.get("/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_a_visitor_gets_a_token_command_for_the_address_serving_the_page() -> None:
    page = welcome_page(Client(HTTP_HOST="127.0.0.1:8000"))

    assert (
        "curl -s -X POST http://127.0.0.1:8000/v1/auth/token \\\n"
        "  -d username=USER -d password=PASSWORD"
    ) in page
    assert "-d '{\"instances\": [1.0, 2.0, 5.0]}'" in page
    assert "http://127.0.0.1:8000/v1/models/half_plus_two:predict" in page


def test_the_welcome_page_links_login_docs_and_the_browsable_api() -> None:
    page = welcome_page(Client())

    assert 'href="/api-auth/login/?next=/v1/models"' in page
    assert 'href="/v1/docs"' in page
    assert 'href="/v1/models"' in page
    assert "<title>Welcome \N{EN DASH} TF Serving gateway</title>" in page


def test_the_welcome_page_names_no_model_a_visitor_may_not_use() -> None:
    page = welcome_page(Client())

    for hidden in ("iris", "sentiment", "digits"):
        assert hidden not in page


def test_a_logged_in_user_lands_on_their_models(alice: User) -> None:
    client = Client()
    client.login(username="alice", password=PASSWORD)

    response = client.get("/")

    assert (response.status_code, response["Location"]) == (302, "/v1/models")


def test_the_login_page_carries_the_gateways_name() -> None:
    page = Client().get("/api-auth/login/").content.decode()

    assert "TF Serving gateway" in page
    assert "Django REST framework" not in page


def test_in_production_the_welcome_page_names_no_model(settings) -> None:
    settings.PRODUCTION = True

    page = welcome_page(Client())

    assert "half_plus_two" not in page
    assert "/v1/models/MODEL:predict" in page
