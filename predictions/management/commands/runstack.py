"""manage.py runstack: the embedded model server and the gateway under gunicorn, together,
behind the production buffering proxy (nginx) where nginx is installed.

The model server starts first; gunicorn starts once the model server's health
is SERVING (its models are loaded). With nginx, gunicorn listens on a free loopback
port and nginx (deploy/proxy/, the compose and Kubernetes proxy's config) on the
address clients use, so a slow client waits in nginx and never holds one of
gunicorn's threads; without it gunicorn serves that address alone, with a warning.
Ctrl-C or SIGTERM stops the proxy, gunicorn, then the model server. If one dies,
the others are stopped and the command exits non-zero, so a supervisor sees it.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from serving_project import processes

POLL_SECONDS = 0.2


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
            default=settings.GATEWAY_BIND,
            help="host:port for the gateway (default: GATEWAY_BIND or 127.0.0.1:8000).",
        )
        parser.add_argument(
            "--startup-timeout",
            type=float,
            default=180.0,
            help="Seconds to wait for the model server to load its models.",
        )
        parser.add_argument(
            "--no-proxy",
            action="store_true",
            help="Serve with gunicorn alone even where nginx is installed.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        port, bind = options["model_server_port"], options["bind"]
        nginx = None if options["no_proxy"] else processes.find_nginx()
        gunicorn_bind = f"127.0.0.1:{processes.free_port()}" if nginx else bind
        model_server_address = f"127.0.0.1:{port}"
        # The children inherit this process's environment, pointed at each other.
        env = {
            **os.environ,
            "TFSERVING_ADDRESS": model_server_address,
            "GATEWAY_BIND": gunicorn_bind,
        }
        if nginx:
            # The client address is the proxy's X-Forwarded-For entry, not 127.0.0.1.
            env.setdefault("NUM_PROXIES", "1")
        self._say_what_fronts_gunicorn(nginx, bind, gunicorn_bind)
        model_server = processes.start_model_server(
            port, [f"--model_config_file={options['model_config_file']}"], env=env
        )
        running = {"model server": model_server}
        proxy_state = Path(tempfile.mkdtemp(prefix="gateway-proxy-")) if nginx else None
        try:
            self.stdout.write(f"Model server starting on {model_server_address} …")
            try:
                serving = processes.wait_until_serving(
                    model_server_address, model_server, options["startup_timeout"], stop
                )
                if not serving:
                    return
                running = {"gunicorn": processes.start_gunicorn(env), **running}
                ready = processes.wait_for_http(
                    f"http://{gunicorn_bind}/healthz", running["gunicorn"], stop=stop
                )
                if ready and nginx and proxy_state:
                    proxy = processes.start_proxy(
                        bind, gunicorn_bind, proxy_state, nginx=nginx, env=env
                    )
                    running = {"proxy": proxy, **running}
                    ready = processes.wait_for_http(f"http://{bind}/healthz", proxy, stop=stop)
                if ready:
                    self._print_banner(bind)
            except processes.ProcessExited as exited:
                raise CommandError(str(exited), returncode=exited.returncode or 1) from None
            except TimeoutError as error:
                raise CommandError(str(error)) from None
            self._supervise(running, stop)
            self.stdout.write("Stopping …")
        finally:
            # Front to back: the proxy, then gunicorn (it drains requests to the model server).
            for process in running.values():
                processes.terminate(process)
            if proxy_state:
                shutil.rmtree(proxy_state, ignore_errors=True)

    def _supervise(self, children: dict, stop: threading.Event) -> None:
        while not stop.is_set():
            for name, process in children.items():
                if process.poll() is not None:
                    raise CommandError(
                        f"The {name} exited with code {process.returncode}; stopping.",
                        returncode=process.returncode or 1,
                    )
            stop.wait(POLL_SECONDS)

    def _say_what_fronts_gunicorn(self, nginx: str | None, bind: str, gunicorn_bind: str) -> None:
        if nginx:
            self.stdout.write(
                f"Buffering proxy: {nginx} on {bind}, in front of gunicorn on {gunicorn_bind}."
            )
        else:
            self.stdout.write(
                self.style.WARNING(
                    f"Warning: no nginx, so gunicorn serves {bind} alone and slow clients can"
                    " hold its threads; see README, Slow clients and reach."
                )
            )

    def _print_banner(self, bind: str) -> None:
        url = f"http://{bind}"
        self.stdout.write(
            self.style.SUCCESS(f"Gateway ready at {url}/")
            + f"\n  Browsable API: log in at {url}/api-auth/login/ (user 'demo', the password"
            " printed above, or DEMO_PASSWORD)"
            + f"\n  API docs (Swagger UI): {url}/v1/docs"
            + f"\n  Admin and operations page: {url}/admin/ and {url}/ops/ (staff: run"
            " `make superuser` in another shell)"
            + f"\n  Prometheus metrics: {url}/metrics (from this machine)"
            + f"\n  Token:  curl -s -X POST {url}/v1/auth/token -d username=demo -d password=…"
            + "\n  Predict: curl -s -H 'Authorization: Bearer <access>' "
            + f"-d '{{\"instances\": [1.0, 2.0, 5.0]}}' {url}/v1/models/half_plus_two:predict"
            + "\n  Stop with Ctrl-C."
        )


def _port_of(address: str) -> int:
    _, _, port = address.rpartition(":")
    return int(port) if port.isdigit() else 8500
