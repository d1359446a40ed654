"""The deployment routes from a browser: DRF's browsable API with forms to use them."""

from __future__ import annotations

import re
from pathlib import Path

from django.test import Client

from tests.gateway.conftest import PASSWORD, make_user
from tests.gateway.deployments import repository as demo
from tests.gateway.deployments.calls import V1


def staff_browser() -> Client:
    make_user("operator", is_staff=True)
    browser = Client(enforce_csrf_checks=True)
    browser.login(username="operator", password=PASSWORD)
    return browser


def test_the_versions_page_has_an_upload_form(repository: Path) -> None:
    page = staff_browser().get("/v1/models/half_plus_two/versions", HTTP_ACCEPT="text/html")

    html = page.content.decode()
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in html
    assert re.search(r'<input name="archive"\s+type="file"', html)


def test_a_version_can_be_published_from_the_upload_form(repository: Path) -> None:
    browser = staff_browser()
    page = browser.get("/v1/models/half_plus_two/versions", HTTP_ACCEPT="text/html")
    token = page.cookies["csrftoken"].value
    archive = Path(repository.parent / "v.tar.gz")
    archive.write_bytes(demo.version_archive(V1))

    with open(archive, "rb") as upload:
        response = browser.post(
            "/v1/models/half_plus_two/versions",
            {"archive": upload, "csrfmiddlewaretoken": token, "wait": "true"},
            HTTP_ACCEPT="application/json",
        )

    assert response.status_code == 201, response.content
    assert response.json()["version"] == 3


def test_the_traffic_page_offers_a_put_form(repository: Path) -> None:
    page = staff_browser().get("/v1/models/half_plus_two/traffic", HTTP_ACCEPT="text/html")

    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-method="PUT"' in html
