"""What ``make run`` (runstack) puts in front of gunicorn: nginx where installed, and
says so; gunicorn alone otherwise, with a one-line warning."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.front_proxy import NGINX, runstack

pytestmark = pytest.mark.slow


@pytest.mark.skipif(NGINX is None, reason="needs nginx (apt-get install nginx-light)")
def test_runstack_serves_its_address_through_nginx_and_says_so(tmp_path: Path) -> None:
    with runstack(tmp_path) as url:
        response = httpx.get(f"{url}/healthz")
    startup = (tmp_path / "runstack.log").read_text()

    assert (response.status_code, response.headers["server"]) == (200, "nginx")
    assert f"Buffering proxy: {NGINX} on {url.removeprefix('http://')}, in front of" in startup
    assert "Warning" not in startup


def test_runstack_without_the_proxy_serves_gunicorn_alone_with_a_warning(tmp_path: Path) -> None:
    with runstack(tmp_path, "--no-proxy") as url:
        response = httpx.get(f"{url}/healthz")
    startup = (tmp_path / "runstack.log").read_text()

    assert (response.status_code, response.headers["server"]) == (200, "gunicorn")
    assert (
        f"Warning: no nginx, so gunicorn serves {url.removeprefix('http://')} alone and slow"
        " clients can hold its threads; see README, Slow clients and reach.\n"
    ) in startup
