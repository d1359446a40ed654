""".env.example documents every setting, with values safe for production."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from tests.deploy.conftest import ROOT
from tests.support.env_files import env_file_values

ENV_EXAMPLE = ROOT / ".env.example"
# Files that read the gateway's environment.
SETTINGS_FILES = (
    ROOT / "serving_project" / "environment.py",  # the values settings and gunicorn share
    ROOT / "serving_project" / "settings.py",
    ROOT / "serving_project" / "gunicorn.conf.py",
)
# Read by docker-compose.yml itself, not by the gateway.
COMPOSE_ONLY = {"POSTGRES_PASSWORD", "GATEWAY_PORT", "COMPOSE_PROJECT_NAME"}
# The team contract's list (the README table).
CONTRACT_VARIABLES = {
    "DJANGO_ENV",
    "DJANGO_SECRET_KEY",
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "CORS_ALLOWED_ORIGINS",
    "TFSERVING_ADDRESS",
    "TFSERVING_TIMEOUT_SECONDS",
    "TFSERVING_RETRIES",
    "TFSERVING_MAX_MESSAGE_BYTES",
    "MODEL_CONFIG_FILE",
    "SIGNATURE_CACHE_SECONDS",
    "MAX_REQUEST_BYTES",
    "JWT_ACCESS_TOKEN_SECONDS",
    "JWT_REFRESH_TOKEN_SECONDS",
    "THROTTLE_PREDICT_RATE",
    "THROTTLE_TOKEN_RATE",
    "LOG_FORMAT",
    "GATEWAY_BIND",
    "GUNICORN_WORKERS",
    "GUNICORN_THREADS",
}
VARIABLE_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def environment_reads(source: str) -> set[str]:
    """Names a settings module reads from the environment.

    Matches ``os.environ["X"]``, calls whose callee mentions the environment
    (``os.environ.get("X")``, ``os.getenv("X")``, ``env.int("X", 10)``...), calls
    of the module's own helpers that read it (``def _int(name): ... os.environ ...``)
    and, inside the Environment class, its calls of its own readers (``self.str("X")``).
    """
    tree = ast.parse(source)
    readers = {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and "environ" in ast.unparse(node)
    }
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and "environ" in ast.unparse(node.value):
            key = node.slice
        elif (
            isinstance(node, ast.Call)
            and node.args
            and (
                "env" in ast.unparse(node.func).lower()
                or ast.unparse(node.func) in readers
                or ast.unparse(node.func).startswith("self.")
            )
        ):
            key = node.args[0]
        else:
            continue
        if isinstance(key, ast.Constant) and VARIABLE_NAME.match(str(key.value)):
            names.add(key.value)
    return names


def settings_variables() -> set[str]:
    return set().union(*(environment_reads(path.read_text()) for path in SETTINGS_FILES))


def test_environment_reads_finds_the_usual_ways_of_reading_a_variable() -> None:
    source = (
        "import os\n"
        "A = os.environ['DJANGO_ENV']\n"
        "B = os.environ.get('REDIS_URL', '')\n"
        "C = os.getenv('LOG_FORMAT')\n"
        "D = env.int('GUNICORN_WORKERS', 2)\n"
        "def _int(name):\n"
        "    return int(os.environ.get(name, '1'))\n"
        "E = _int('GUNICORN_THREADS')\n"
        "F = {'x': 1}['NOT_AN_ENV_READ']\n"
        "G = int('NOT_AN_ENV_READ_EITHER')\n"
    )

    assert environment_reads(source) == {
        "DJANGO_ENV",
        "REDIS_URL",
        "LOG_FORMAT",
        "GUNICORN_WORKERS",
        "GUNICORN_THREADS",
    }


def test_env_example_lists_every_variable_the_settings_read() -> None:
    variables = settings_variables()

    assert variables >= CONTRACT_VARIABLES, "settings no longer read a contract variable"
    assert variables - set(env_file_values(ENV_EXAMPLE)) == set()


def test_env_example_names_no_variable_that_nothing_reads() -> None:
    unknown = set(env_file_values(ENV_EXAMPLE)) - settings_variables() - COMPOSE_ONLY

    assert unknown == set()


def test_a_variable_missing_from_env_example_is_reported(tmp_path: Path) -> None:
    trimmed = tmp_path / ".env.example"
    lines = ENV_EXAMPLE.read_text().splitlines()
    trimmed.write_text("\n".join(line for line in lines if not line.startswith("REDIS_URL=")))

    assert settings_variables() - set(env_file_values(trimmed)) == {"REDIS_URL"}


def test_env_example_values_are_safe_for_production() -> None:
    values = env_file_values(ENV_EXAMPLE)

    assert values["DJANGO_ENV"] == "production"
    assert values["DJANGO_DEBUG"] == "0"
    # Empty secrets make `docker compose up` stop with a message instead of running
    # with a published placeholder.
    assert values["DJANGO_SECRET_KEY"] == ""
    assert values["POSTGRES_PASSWORD"] == ""
    assert "*" not in values["DJANGO_ALLOWED_HOSTS"]
    assert "localhost" in values["DJANGO_ALLOWED_HOSTS"].split(",")  # the image's health check
    assert values["CORS_ALLOWED_ORIGINS"] == ""


def test_kubernetes_config_and_secret_set_only_variables_the_settings_read(
    kubernetes_resources: dict[str, dict[str, Any]],
) -> None:
    config = kubernetes_resources["ConfigMap/gateway-config"]["data"]
    secret = kubernetes_resources["Secret/gateway-secrets"]["stringData"]

    assert set(config) | set(secret) <= settings_variables()
    assert set(config).isdisjoint(secret)
