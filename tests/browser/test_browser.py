"""End to end in a real browser: the browsable API, the API docs, the operations page."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import save_screenshot
from tests.support.gateway import DEMO_PASSWORD, STAFF_PASSWORD, STAFF_USERNAME, Gateway

pytestmark = pytest.mark.slow


def test_a_newcomer_goes_from_the_welcome_page_to_a_prediction(new_page: Page) -> None:
    page = new_page
    page.goto("/")
    expect(page.locator("h1")).to_have_text("TF Serving gateway")
    expect(page.locator("#token-command")).to_contain_text(
        f"curl -s -X POST {page.url.rstrip('/')}/v1/auth/token"
    )
    save_screenshot(page, "welcome", for_docs=True)

    page.click("text=Log in")
    expect(page.locator("h3")).to_have_text("TF Serving gateway")
    page.fill("#id_username", "demo")
    page.fill("#id_password", DEMO_PASSWORD)
    save_screenshot(page, "login")
    page.click("#submit-id-submit")

    expect(page).to_have_url(re.compile(r"/v1/models$"))
    expect(page.locator(".response-info")).to_contain_text('"name": "half_plus_two"')
    save_screenshot(page, "models")

    page.goto("/v1/models/half_plus_two:predict")
    expect(page.locator("h1")).to_have_text("Predict: half_plus_two, signature serving_default")
    summary = page.locator(".response-info")
    expect(summary).to_contain_text("HTTP 200 OK")
    expect(summary).to_contain_text('"x": "float tensor of shape [-1]"')
    expect(summary).not_to_contain_text("405")
    content = page.locator('#post-generic-content-form textarea[name="_content"]')
    expect(content).to_have_value('{\n  "instances": [1.0, 2.0, 5.0]\n}')
    save_screenshot(page, "predict-form", for_docs=True)
    page.locator("#post-generic-content-form button", has_text="POST").click()

    response = page.locator(".response-info")
    expect(response).to_contain_text("HTTP 200 OK")
    expect(response).to_contain_text('"predictions": [')
    assert re.sub(r"\s+", "", response.inner_text()).endswith('{"predictions":[3.5,4.0,5.5]}')
    save_screenshot(page, "browsable-api", for_docs=True)


def test_docs_page_authorizes_with_a_token_and_calls_predict(
    new_page: Page, stack: Gateway
) -> None:
    token = httpx.post(
        f"{stack.url}/v1/auth/token", data={"username": "demo", "password": DEMO_PASSWORD}
    ).json()["access"]
    page = new_page
    page.goto("/v1/docs")

    page.click("button.authorize")
    jwt = page.locator(".auth-container", has_text="jwtAuth")
    jwt.locator("input").fill(token)
    jwt.locator("button.authorize").click()
    expect(jwt).to_contain_text("Authorized")
    page.click("button.btn-done")

    operation = page.locator("#operations-inference-predict")
    operation.locator(".opblock-summary").click()
    operation.locator(".try-out__btn").click()
    operation.locator('input[placeholder="name"]').fill("half_plus_two")
    expect(operation.locator("textarea.body-param__text")).to_have_value(
        re.compile(r'"instances":\s*\[\s*1(\.0)?,\s*2(\.0)?,\s*5(\.0)?\s*\]')
    )
    operation.locator("button.execute").click()

    live = operation.locator(".live-responses-table")
    expect(live.locator("tr.response .response-col_status")).to_have_text("200")
    expect(live.locator("tr.response .response-col_description")).to_contain_text(
        re.compile(r"\"predictions\":\s*\[\s*3.5,\s*4,\s*5.5\s*\]")
    )
    save_screenshot(page, "api-docs", full_page=True)


def test_operations_page_shows_model_states_and_charts(new_page: Page) -> None:
    page = new_page
    page.goto("/admin/login/?next=/ops/")
    page.fill("#id_username", STAFF_USERNAME)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click('input[type="submit"]')

    expect(page).to_have_url(re.compile(r"/ops/$"))
    expect(page.locator("h1")).to_have_text("Operations")
    expect(page.locator(".ops-version.available")).to_have_count(5)
    charts = page.locator("svg.chart")
    expect(charts).to_have_count(12)
    rate = page.locator('#model-half_plus_two svg[data-chart="rate"]')
    expect(rate.locator("polyline")).to_have_count(1)
    assert rate.bounding_box()["width"] > 300
    save_screenshot(page, "operations", for_docs=True)

    page.click("text=Last day")
    expect(page.locator(".ops-windows strong")).to_have_text("Last day")
    expect(page.locator("svg.chart")).to_have_count(12)
    save_screenshot(page, "operations-day", full_page=True)


def test_staff_manage_api_keys_in_the_admin(new_page: Page) -> None:
    page = new_page
    page.goto("/admin/login/?next=/admin/predictions/apikey/add/")
    page.fill("#id_username", STAFF_USERNAME)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click('input[type="submit"]')
    page.fill("#id_owner", "1")
    page.fill("#id_name", "batch scoring")
    page.click('input[name="_save"]')

    expect(page.locator(".messagelist")).to_contain_text("copy it now, it is not shown again")
    state = page.locator("th.column-state")
    expect(state).to_be_visible()
    box = state.bounding_box()
    assert box is not None and box["x"] + box["width"] <= page.viewport_size["width"]
    save_screenshot(page, "admin-api-keys", for_docs=True)
