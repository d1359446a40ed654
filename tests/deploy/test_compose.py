"""docker-compose.yml wires the stack the way the README promises."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from tests.deploy.conftest import ROOT
from tests.support.env_files import env_file_values

# A release, not a moving tag: "2.20.0", "15.14-bookworm"; never "latest", "15", "7-alpine".
FULL_VERSION_TAG = re.compile(r"^[a-z0-9./-]+:\d+\.\d+(\.\d+)?(-[a-z0-9]+)?$")


def flag_values(args: list[str]) -> dict[str, str]:
    return dict(arg.removeprefix("--").split("=", 1) for arg in args)


def host_path(service: dict[str, Any], container_path: str) -> Path:
    """The repository file a container path of ``service`` is bind-mounted from."""
    target = PurePosixPath(container_path)
    for volume in service["volumes"]:
        source, mount_point = volume.split(":")[:2]
        if target.is_relative_to(mount_point):
            return ROOT / source / target.relative_to(mount_point)
    raise AssertionError(f"{container_path} is not on a bind mount of the service")


@pytest.mark.parametrize("service", ["tfserving", "postgres", "redis"])
def test_third_party_images_are_pinned_to_a_release(compose: dict[str, Any], service: str) -> None:
    assert FULL_VERSION_TAG.match(compose["services"][service]["image"])


def test_tfserving_config_flags_name_files_that_exist_in_the_repository(
    compose: dict[str, Any],
) -> None:
    tfserving = compose["services"]["tfserving"]
    flags = flag_values(tfserving["command"])
    files = {name: value for name, value in flags.items() if name.endswith("_file")}

    assert sorted(files) == [
        "batching_parameters_file",
        "model_config_file",
        "monitoring_config_file",
    ]
    for container_path in files.values():
        assert host_path(tfserving, container_path).is_file(), container_path


def test_tfserving_serves_rest_grpc_batching_and_health(compose: dict[str, Any]) -> None:
    tfserving = compose["services"]["tfserving"]
    flags = flag_values(tfserving["command"])

    assert tfserving["entrypoint"] == ["/usr/bin/tensorflow_model_server"]
    assert flags["port"] == "8500"
    assert flags["rest_api_port"] == "8501"
    assert flags["enable_batching"] == "true"
    assert flags["enable_grpc_healthcheck_service"] == "true"
    assert flags["allow_version_labels_for_unavailable_models"] == "true"
    # The gateway pushes the config; re-reading the file would undo its changes.
    assert "model_config_file_poll_wait_seconds" not in flags


def test_tfserving_mounts_models_and_configs_read_only(compose: dict[str, Any]) -> None:
    assert compose["services"]["tfserving"]["volumes"] == [
        "./models:/models:ro",
        "./deploy/tfserving:/config:ro",
    ]


def test_tfserving_healthcheck_fetches_the_prometheus_path_on_the_rest_port(
    compose: dict[str, Any],
) -> None:
    test = compose["services"]["tfserving"]["healthcheck"]["test"]
    monitoring = (ROOT / "deploy" / "tfserving" / "monitoring.config").read_text()
    path = re.search(r'path: "([^"]+)"', monitoring).group(1)

    assert test[:3] == ["CMD", "bash", "-c"]
    assert "/dev/tcp/127.0.0.1/8501" in test[3]
    assert f"GET {path} HTTP/1.1" in test[3]


def test_gateway_starts_after_migration_and_healthy_dependencies(
    compose: dict[str, Any],
) -> None:
    assert compose["services"]["gateway"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "tfserving": {"condition": "service_healthy"},
    }


def test_migrate_runs_the_gateway_image_once(compose: dict[str, Any]) -> None:
    gateway, migrate = compose["services"]["gateway"], compose["services"]["migrate"]

    assert migrate["image"] == gateway["image"]
    assert migrate["build"] == gateway["build"]
    assert migrate["env_file"] == gateway["env_file"]
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no"


@pytest.mark.parametrize("service", ["proxy", "gateway", "migrate", "tfserving"])
def test_our_containers_run_read_only_without_capabilities(
    compose: dict[str, Any], service: str
) -> None:
    definition = compose["services"][service]

    assert definition["read_only"] is True
    assert definition["tmpfs"] == ["/tmp"]
    assert definition["cap_drop"] == ["ALL"]
    assert definition["security_opt"] == ["no-new-privileges:true"]


@pytest.mark.parametrize(
    ("service", "command"),
    [
        ("postgres", ["CMD", "pg_isready", "-U", "gateway", "-d", "gateway"]),
        ("redis", ["CMD", "redis-cli", "ping"]),
    ],
)
def test_datastores_have_volumes_and_health_checks(
    compose: dict[str, Any], service: str, command: list[str]
) -> None:
    definition = compose["services"][service]

    assert definition["healthcheck"]["test"] == command
    assert definition["volumes"][0].split(":")[0] in compose["volumes"]


def test_only_the_proxy_is_published_on_the_host(compose: dict[str, Any]) -> None:
    published = {name for name, service in compose["services"].items() if "ports" in service}

    assert published == {"proxy"}
    assert compose["services"]["proxy"]["ports"] == ["${GATEWAY_PORT:-8000}:8080"]


def test_tfserving_is_reachable_only_on_the_compose_network(compose: dict[str, Any]) -> None:
    # A published 8500/8501, or the host's network, would let anyone on the host call
    # the model server around the gateway's authentication and audit trail.
    tfserving = compose["services"]["tfserving"]

    assert {"ports", "network_mode"} & set(tfserving) == set()


def test_proxy_forwards_to_the_port_gunicorn_binds_in_the_gateway_container(
    compose: dict[str, Any],
) -> None:
    bind = env_file_values(ROOT / ".env.example")["GATEWAY_BIND"]

    assert compose["services"]["proxy"]["environment"]["GATEWAY_UPSTREAM"] == (
        f"gateway:{bind.rsplit(':', 1)[1]}"
    )
    assert compose["services"]["proxy"]["depends_on"] == {
        "gateway": {"condition": "service_started"}
    }


def test_proxy_caps_bodies_at_the_gateways_limit_with_the_same_default(
    compose: dict[str, Any],
) -> None:
    limit = compose["services"]["proxy"]["environment"]["MAX_REQUEST_BYTES"]
    run_nginx = (ROOT / "deploy" / "proxy" / "run-nginx.sh").read_text()

    assert limit == "${MAX_REQUEST_BYTES:-33554432}"
    assert env_file_values(ROOT / ".env.example")["MAX_REQUEST_BYTES"] == "33554432"
    assert 'MAX_REQUEST_BYTES="${MAX_REQUEST_BYTES:-33554432}"' in run_nginx


def test_gateway_trusts_the_proxys_x_forwarded_for_entry(compose: dict[str, Any]) -> None:
    for service in ("gateway", "migrate"):
        assert compose["services"][service]["environment"]["NUM_PROXIES"] == "${NUM_PROXIES:-1}"
    assert env_file_values(ROOT / ".env.example")["NUM_PROXIES"] == "1"


def test_compose_file_uses_only_what_docker_compose_1_29_reads(compose: dict[str, Any]) -> None:
    # Debian 12's and Ubuntu 22.04's docker-compose refuse both (seen in a real run).
    assert "name" not in compose
    for service in compose["services"].values():
        assert all(isinstance(entry, str) for entry in service.get("env_file", [])), service


def test_gateway_and_tfserving_share_the_model_repository(compose: dict[str, Any]) -> None:
    gateway, tfserving = compose["services"]["gateway"], compose["services"]["tfserving"]
    settings = env_file_values(ROOT / ".env.example")

    assert gateway["volumes"] == ["./models:/models"]  # read-write: versions are published
    assert "./models:/models:ro" in tfserving["volumes"]
    assert settings["MODEL_REPOSITORY"] == settings["MODEL_SERVER_REPOSITORY"] == "/models"
    assert "volumes" not in compose["services"]["migrate"]
