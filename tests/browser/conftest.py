"""A real gateway (gunicorn, two workers) on the real model server, and Debian's chromium
driven by Playwright. Screenshots go to test-artifacts/screenshots/; with
UPDATE_DOCS_SCREENSHOTS=1 the README's ones in docs/screenshots/ are rewritten too."""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.support.gateway import Gateway, gunicorn_gateway
from tests.support.processes import ROOT, ModelServerProcess

CHROMIUM = "/usr/bin/chromium"  # Debian's; a test tool cannot download its own browser here
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 860}


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, modelserver_process: ModelServerProcess
) -> Iterator[Gateway]:
    """The gateway with the demo user, a staff user, and an hour of recorded traffic."""
    directory = tmp_path_factory.mktemp("browser-gateway")
    with gunicorn_gateway(
        directory, modelserver_process.address, staff=True, GUNICORN_WORKERS="2"
    ) as gateway:
        seed_audit_history(gateway.database, datetime.now(UTC))
        yield gateway


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see .ci/run)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium_browser: Browser, stack: Gateway) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the gateway. The test fails if the
    Content-Security-Policy blocked anything on the pages it visited."""
    context = chromium_browser.new_context(base_url=stack.url, viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    page = context.new_page()
    blocked: list[str] = []

    def note_blocked(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            blocked.append(f"{page.url}: {message.text}")

    page.on("console", note_blocked)
    yield page
    context.close()
    assert blocked == []


def save_screenshot(page: Page, name: str, *, for_docs: bool = False, **options: object) -> Path:
    """test-artifacts/screenshots/<name>.png; with UPDATE_DOCS_SCREENSHOTS=1 and ``for_docs``,
    docs/screenshots/<name>.png as well."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), **options)
    if for_docs and os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOTS / f"{name}.png")
    return path


# Requests per minute for each model over the last hour: a daily-looking curve.
_TRAFFIC = {"half_plus_two": 40, "iris": 24, "sentiment": 14, "digits": 8}
_BASE_LATENCY_MS = {"half_plus_two": 1.6, "iris": 2.4, "sentiment": 2.1, "digits": 6.5}


def seed_audit_history(database: Path, now: datetime) -> None:
    """Audit records for the past hour, as the gateway writes them, so the charts have
    history. Deterministic: the same curves every run. The requests the tests make
    through the browser add to them."""
    rows = []
    for minute in range(1, 60):
        at = now - timedelta(minutes=minute)
        wave = 1 + 0.5 * math.sin(minute / 9)
        for model, per_minute in _TRAFFIC.items():
            count = round(per_minute * wave)
            for index in range(count):
                spread = (index * 37 % count) / count  # 0..1, evenly mixed
                latency = _BASE_LATENCY_MS[model] * (1 + 2.5 * spread**6) * (1 + 0.2 * wave)
                status = 200
                if index % 29 == 7:
                    status = 400
                if (minute in (17, 18) and index % 4 == 0) or index % 97 == 13:
                    status = 503
                created = at + timedelta(seconds=60 * index / count)
                rows.append(_audit_row(created, model, status, latency))
    with sqlite3.connect(database) as db:
        db.executemany(
            "INSERT INTO predictions_auditrecord (created_at, request_id, trace_id, caller, method,"
            " http_method, path, model_name, model_version, version_label, signature_name,"
            " http_status, error_code, grpc_code, latency_ms, request_bytes, response_bytes)"
            " VALUES (?, ?, '', 'demo', 'predict', 'POST', ?, ?, 1, '', 'serving_default', ?, ?, ?,"
            " ?, 64, 48)",
            rows,
        )


def _audit_row(created: datetime, model: str, status: int, latency_ms: float) -> tuple:
    error_code = {400: "invalid_argument", 503: "unavailable"}.get(status, "")
    grpc_code = {400: "", 503: "UNAVAILABLE"}.get(status, "OK")
    return (
        created.strftime("%Y-%m-%d %H:%M:%S.%f"),  # how Django stores UTC times in SQLite
        uuid.uuid4().hex,
        f"/v1/models/{model}:predict",
        model,
        status,
        error_code,
        grpc_code,
        latency_ms if status != 503 else 1.0,
    )
