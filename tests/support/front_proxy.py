"""The stack behind the buffering proxy, run for real: runstack as ``make run`` starts
it, and the production proxy config (deploy/proxy/) run by nginx in front of gunicorn."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from serving_project.processes import find_nginx, start_proxy, terminate, wait_for_http
from tests.support.gateway import gateway_env, gunicorn_gateway, manage
from tests.support.processes import ROOT, free_port

NGINX = find_nginx()


@contextlib.contextmanager
def runstack(directory: Path, *options: str) -> Iterator[str]:
    """``manage.py runstack`` as ``make run`` starts it (migrated, demo user, the models
    of models/models.config), on free ports; yields its URL. Its output goes to
    ``directory/runstack.log``."""
    bind = f"127.0.0.1:{free_port()}"
    env = gateway_env(directory / "db.sqlite3", "unused", bind)
    manage(env, "migrate", "--noinput")
    manage(env, "create_demo_user")
    command = [sys.executable, "manage.py", "runstack", f"--model-server-port={free_port()}"]
    with open(directory / "runstack.log", "wb") as log:
        process = subprocess.Popen(
            [*command, f"--bind={bind}", *options],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_http(f"http://{bind}/readyz", process, timeout=120)
        yield f"http://{bind}"
    finally:
        terminate(process)


@contextlib.contextmanager
def production_proxy(directory: Path, model_server_address: str) -> Iterator[str]:
    """deploy/proxy/run-nginx.sh and its template, run by nginx in front of gunicorn."""
    assert NGINX is not None
    with gunicorn_gateway(directory, model_server_address, NUM_PROXIES="1") as gateway:
        listen = f"127.0.0.1:{free_port()}"
        upstream = gateway.url.removeprefix("http://")
        state = directory / "proxy"
        with open(directory / "proxy.log", "wb") as log:
            proxy = start_proxy(listen, upstream, state, nginx=NGINX, env=gateway.env, output=log)
        try:
            wait_for_http(f"http://{listen}/healthz", proxy)
            yield f"http://{listen}"
        finally:
            terminate(proxy)
