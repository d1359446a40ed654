"""manage.py runstack: the embedded model server and the gateway under gunicorn, together.

The model server starts first; gunicorn starts once the model server's health
is SERVING (its models are loaded). Ctrl-C or SIGTERM stops gunicorn, then the
model server. If either one dies, the other is stopped and the command exits
non-zero, so a supervisor sees the failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import grpc
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from grpc_health.v1 import health_pb2, health_pb2_grpc

POLL_SECONDS = 0.2
STOP_TIMEOUT_SECONDS = 20.0
GUNICORN_CONFIG = settings.BASE_DIR / "serving_project" / "gunicorn.conf.py"


class Command(BaseCommand):
    help = "Run the embedded model server and the gateway (gunicorn) until Ctrl-C or SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--model-server-port",
            type=int,
            default=_port_of(settings.TFSERVING_ADDRESS),
            help="gRPC port of the model server (default: the port in TFSERVING_ADDRESS).",
        )
        parser.add_argument(
            "--model-config-file",
            default=settings.MODEL_CONFIG_FILE,
            help="TF Serving model_config_list file (default: MODEL_CONFIG_FILE).",
        )
        parser.add_argument(
            "--bind",
            default=os.environ.get("GATEWAY_BIND", "127.0.0.1:8000"),
            help="host:port for the gateway (default: GATEWAY_BIND or 127.0.0.1:8000).",
        )
        parser.add_argument(
            "--startup-timeout",
            type=float,
            default=180.0,
            help="Seconds to wait for the model server to load its models.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        port, bind = options["model_server_port"], options["bind"]
        model_server_address = f"127.0.0.1:{port}"
        env = {**os.environ, "TFSERVING_ADDRESS": model_server_address, "GATEWAY_BIND": bind}
        # Own sessions: a Ctrl-C reaches only this command, which stops the children in order.
        model_server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "modelserver",
                f"--port={port}",
                f"--model_config_file={options['model_config_file']}",
            ],
            cwd=settings.BASE_DIR,  # models.config holds paths relative to the repository root
            env=env,
            start_new_session=True,
        )
        processes = [model_server]
        try:
            self.stdout.write(f"Model server starting on {model_server_address} …")
            _wait_until_serving(
                model_server_address, model_server, stop, options["startup_timeout"]
            )
            if stop.is_set():
                return
            gunicorn = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    str(GUNICORN_CONFIG),
                    "serving_project.wsgi",
                ],
                cwd=settings.BASE_DIR,
                env=env,
                start_new_session=True,
            )
            processes.insert(0, gunicorn)
            if _wait_until_healthy(f"http://{bind}/healthz", gunicorn, stop):
                self._print_banner(bind)
            while not stop.is_set():
                for process, name in ((gunicorn, "gunicorn"), (model_server, "model server")):
                    if process.poll() is not None:
                        raise CommandError(
                            f"The {name} exited with code {process.returncode}; stopping.",
                            returncode=process.returncode or 1,
                        )
                stop.wait(POLL_SECONDS)
            self.stdout.write("Stopping …")
        finally:
            for process in processes:  # gunicorn first: it drains requests to the model server
                _terminate(process)

    def _print_banner(self, bind: str) -> None:
        url = f"http://{bind}"
        self.stdout.write(
            self.style.SUCCESS(f"Gateway ready at {url}/v1/models")
            + f"\n  Browsable API: log in at {url}/api-auth/login/ (user 'demo', password printed"
            " by create_demo_user, or DEMO_PASSWORD)"
            + f"\n  API docs (Swagger UI): {url}/v1/docs"
            + f"\n  Operations page: {url}/ops/ (staff; manage.py createsuperuser)"
            + f"\n  Prometheus metrics: {url}/metrics (from this machine)"
            + f"\n  Token:  curl -s -X POST {url}/v1/auth/token -d username=demo -d password=…"
            + "\n  Predict: curl -s -H 'Authorization: Bearer <access>' "
            + f"-d '{{\"instances\": [1.0, 2.0, 5.0]}}' {url}/v1/models/half_plus_two:predict"
            + "\n  Stop with Ctrl-C."
        )


def _port_of(address: str) -> int:
    _, _, port = address.rpartition(":")
    return int(port) if port.isdigit() else 8500


def _wait_until_serving(
    address: str, process: subprocess.Popen, stop: threading.Event, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while not stop.is_set():
            if process.poll() is not None:
                raise CommandError(
                    f"The model server exited with code {process.returncode} while starting.",
                    returncode=process.returncode or 1,
                )
            if time.monotonic() > deadline:
                raise CommandError(f"The model server was not SERVING after {timeout:.0f} s.")
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass  # not listening yet
            stop.wait(POLL_SECONDS)


def _wait_until_healthy(
    url: str, process: subprocess.Popen, stop: threading.Event, timeout: float = 60.0
) -> bool:
    deadline = time.monotonic() + timeout
    while not stop.is_set() and process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        stop.wait(POLL_SECONDS)
    return False


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
