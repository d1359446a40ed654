"""Run docker-compose.yml for real: local images, a throwaway project, its containers."""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.env_files import env_file_values
from tests.support.processes import ROOT, free_port

LOCAL_IMAGES_SCRIPT = ROOT / "deploy" / "local-images.sh"
# deploy/local-images.sh exits with this status when Docker cannot run on the machine.
CANNOT_RUN_DOCKER = 3
COMPOSE_FILES = (ROOT / "docker-compose.yml", ROOT / "deploy" / "compose.local.yml")
# Paths docker-compose.yml bind-mounts, relative to the project directory.
MOUNTED_PATHS = ("models", "deploy")
ENV_EXAMPLE = ROOT / ".env.example"


class DockerUnavailable(Exception):
    """Docker cannot run here; the message says why."""


def build_local_images(timeout: float = 1800) -> str:
    """Runs deploy/local-images.sh; its log (build times and image sizes)."""
    result = subprocess.run(
        [str(LOCAL_IMAGES_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode == CANNOT_RUN_DOCKER:
        raise DockerUnavailable(
            result.stderr.strip().splitlines()[-1].split("local-images: ", 1)[-1]
        )
    if result.returncode != 0:
        raise RuntimeError(f"deploy/local-images.sh failed:\n{result.stdout}\n{result.stderr}")
    return result.stderr


def stack_settings(port: int, **overrides: str) -> dict[str, str]:
    """.env.example with its two secrets filled in, served on loopback over plain HTTP."""
    postgres_password = secrets.token_urlsafe(16)
    return {
        **env_file_values(ENV_EXAMPLE),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "POSTGRES_PASSWORD": postgres_password,
        "DATABASE_URL": f"postgres://gateway:{postgres_password}@postgres:5432/gateway",
        # As .env.example says for trying the stack over plain HTTP on localhost.
        "SECURE_SSL_REDIRECT": "0",
        "GATEWAY_PORT": f"127.0.0.1:{port}",
        "METRICS_TOKEN": secrets.token_urlsafe(24),
        **overrides,
    }


@dataclass(frozen=True)
class ComposeStack:
    project: str
    directory: Path  # the project directory: the test's .env, links to mounted paths
    files: tuple[Path, ...]
    port: int
    settings: Mapping[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def compose(self, *args: str, timeout: float = 300) -> str:
        command = ["docker-compose", "--ansi", "never", "-p", self.project]
        command += ["--project-directory", str(self.directory)]
        for path in self.files:
            command += ["-f", str(path)]
        result = subprocess.run(
            [*command, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"docker-compose {' '.join(args)}:\n{result.stdout}{result.stderr}")
        return result.stdout

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).strip()

    def inspect(self, service: str) -> dict:
        output = subprocess.run(
            ["docker", "inspect", self.container(service)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return json.loads(output)[0]

    def health(self, service: str) -> str:
        return self.inspect(service)["State"].get("Health", {}).get("Status", "none")

    def wait_until_healthy(self, services: tuple[str, ...], timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = {service: self.health(service) for service in services}
            if set(states.values()) == {"healthy"}:
                return
            time.sleep(1)
        raise TimeoutError(f"not healthy after {timeout} s: {states}")

    def wait_for_http(self, path: str, timeout: float = 60) -> httpx.Response:
        """GET path until it answers 200 (through the published proxy)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                response = httpx.get(self.url + path, timeout=5)
                if response.status_code == 200 or time.monotonic() > deadline:
                    return response
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.5)

    def resources(self) -> dict[str, list[str]]:
        """Containers, networks and volumes docker still has for this project."""
        label = f"label=com.docker.compose.project={self.project}"
        found = {}
        for kind, command in (
            ("containers", ["docker", "ps", "-aq", "--filter", label]),
            ("networks", ["docker", "network", "ls", "-q", "--filter", label]),
            ("volumes", ["docker", "volume", "ls", "-q", "--filter", label]),
        ):
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            found[kind] = output.split()
        return found


@contextlib.contextmanager
def compose_project(extra_files: tuple[Path, ...] = ()) -> Iterator[ComposeStack]:
    """A throwaway compose project: its own name, directory and .env, removed afterwards.

    The project directory holds the test's .env (so a developer's own .env is never
    read or overwritten) and links to the paths docker-compose.yml mounts, so relative
    paths in the compose file resolve to this checkout.
    """
    directory = Path(tempfile.mkdtemp(prefix="compose-test-"))
    for name in MOUNTED_PATHS:
        (directory / name).symlink_to(ROOT / name)
    port = free_port()
    settings = stack_settings(port)
    (directory / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    stack = ComposeStack(
        project=f"gatewaytest{secrets.token_hex(4)}",
        directory=directory,
        files=(*COMPOSE_FILES, *extra_files),
        port=port,
        settings=settings,
    )
    try:
        yield stack
    finally:
        try:
            stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "10")
        finally:
            shutil.rmtree(directory)
