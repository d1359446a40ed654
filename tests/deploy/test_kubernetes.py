"""The Kubernetes manifests: hardened pods, the right probes, balanced gRPC."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.deploy.conftest import K8S_DIR, kubernetes_manifest_paths

Resources = dict[str, dict[str, Any]]
WORKLOADS = (
    "Deployment/gateway",
    "Deployment/tfserving",
    "Job/gateway-migrate",
    "Job/model-repository-seed",
)
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())


def pod_spec(resources: Resources, workload: str) -> dict[str, Any]:
    return resources[workload]["spec"]["template"]["spec"]


def all_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return spec.get("initContainers", []) + spec["containers"]


def container(resources: Resources, workload: str, name: str) -> dict[str, Any]:
    (found,) = [c for c in all_containers(pod_spec(resources, workload)) if c["name"] == name]
    return found


def test_kustomization_applies_every_manifest_except_the_secret_example() -> None:
    listed = kustomization()["resources"]

    assert sorted(listed) == sorted(
        p.name for p in kubernetes_manifest_paths() if p.name != "secret.example.yaml"
    )


def test_kustomization_images_are_the_images_the_manifests_use(
    kubernetes_resources: Resources,
) -> None:
    used = {
        c["image"].rsplit(":", 1)[0]
        for workload in WORKLOADS
        for c in all_containers(pod_spec(kubernetes_resources, workload))
    }
    overridden = {image["name"] for image in kustomization()["images"]}

    assert overridden == used - {"tensorflow/serving"}


@pytest.mark.parametrize("workload", WORKLOADS)
def test_pods_run_non_root_with_runtime_default_seccomp(
    kubernetes_resources: Resources, workload: str
) -> None:
    spec = pod_spec(kubernetes_resources, workload)

    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False


@pytest.mark.parametrize("workload", WORKLOADS)
def test_containers_have_read_only_root_no_capabilities_and_resources(
    kubernetes_resources: Resources, workload: str
) -> None:
    for each in all_containers(pod_spec(kubernetes_resources, workload)):
        assert each["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }, each["name"]
        assert {"cpu", "memory"} <= set(each["resources"]["requests"]), each["name"]
        assert "memory" in each["resources"]["limits"], each["name"]


def test_gateway_writes_only_its_tmp_and_the_model_repository(
    kubernetes_resources: Resources,
) -> None:
    gateway = container(kubernetes_resources, "Deployment/gateway", "gateway")
    volumes = pod_spec(kubernetes_resources, "Deployment/gateway")["volumes"]
    config = kubernetes_resources["ConfigMap/gateway-config"]["data"]

    assert gateway["volumeMounts"] == [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "model-repository", "mountPath": "/models"},
    ]
    by_name = {volume["name"]: volume for volume in volumes}
    assert by_name["tmp"] == {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "128Mi"}}
    assert by_name["model-repository"] == {
        "name": "model-repository",
        "persistentVolumeClaim": {"claimName": "model-repository"},
    }
    assert config["MODEL_REPOSITORY"] == config["MODEL_SERVER_REPOSITORY"] == "/models"


def test_gateway_probes_use_healthz_for_liveness_and_readyz_for_readiness(
    kubernetes_resources: Resources,
) -> None:
    gateway = container(kubernetes_resources, "Deployment/gateway", "gateway")
    paths = {probe: gateway[probe]["httpGet"]["path"] for probe in PROBES}

    assert paths == {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    assert {gateway[probe]["httpGet"]["port"] for probe in PROBES} == {"gunicorn"}
    assert gateway["ports"] == [{"name": "gunicorn", "containerPort": 8000}]


def test_gateway_probes_send_a_host_that_django_allows(kubernetes_resources: Resources) -> None:
    gateway = container(kubernetes_resources, "Deployment/gateway", "gateway")
    allowed = kubernetes_resources["ConfigMap/gateway-config"]["data"]["DJANGO_ALLOWED_HOSTS"]

    for probe in PROBES:
        headers = gateway[probe]["httpGet"]["httpHeaders"]
        assert headers == [{"name": "Host", "value": "localhost"}], probe
    assert "localhost" in allowed.split(",")


def test_the_service_reaches_gunicorn_only_through_the_proxy_sidecar(
    kubernetes_resources: Resources,
) -> None:
    service = kubernetes_resources["Service/gateway"]["spec"]
    proxy = container(kubernetes_resources, "Deployment/gateway", "proxy")
    gateway = container(kubernetes_resources, "Deployment/gateway", "gateway")
    environment = {variable["name"]: variable for variable in proxy["env"]}

    assert [port["targetPort"] for port in service["ports"]] == ["http"]
    assert proxy["ports"] == [{"name": "http", "containerPort": 8080}]
    assert (
        environment["GATEWAY_UPSTREAM"]["value"]
        == f"127.0.0.1:{gateway['ports'][0]['containerPort']}"
    )
    assert environment["MAX_REQUEST_BYTES"]["valueFrom"] == {
        "configMapKeyRef": {"name": "gateway-config", "key": "MAX_REQUEST_BYTES"}
    }


def test_gateway_trusts_the_ingress_and_the_sidecar_and_keeps_the_ingress_scheme(
    kubernetes_resources: Resources,
) -> None:
    proxy = container(kubernetes_resources, "Deployment/gateway", "proxy")
    environment = {variable["name"]: variable.get("value") for variable in proxy["env"]}

    assert kubernetes_resources["ConfigMap/gateway-config"]["data"]["NUM_PROXIES"] == "2"
    assert environment["PROXY_FORWARDED_PROTO"] == "$http_x_forwarded_proto"


def test_proxy_is_ready_through_gunicorn_but_alive_on_its_own(
    kubernetes_resources: Resources,
) -> None:
    proxy = container(kubernetes_resources, "Deployment/gateway", "proxy")

    assert proxy["readinessProbe"]["httpGet"] == {
        "path": "/healthz",
        "port": "http",
        "httpHeaders": [{"name": "Host", "value": "localhost"}],
    }
    assert proxy["livenessProbe"]["tcpSocket"] == {"port": "http"}


def test_gateway_scales_between_two_and_ten_replicas_and_keeps_one_up(
    kubernetes_resources: Resources,
) -> None:
    autoscaler = kubernetes_resources["HorizontalPodAutoscaler/gateway"]["spec"]
    budget = kubernetes_resources["PodDisruptionBudget/gateway"]["spec"]

    assert kubernetes_resources["Deployment/gateway"]["spec"]["replicas"] == 2
    assert (autoscaler["minReplicas"], autoscaler["maxReplicas"]) == (2, 10)
    assert autoscaler["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "gateway",
    }
    assert budget == {
        "minAvailable": 1,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}},
    }


def test_gateway_reaches_every_tfserving_pod_through_the_headless_service(
    kubernetes_resources: Resources,
) -> None:
    service = kubernetes_resources["Service/tfserving-headless"]["spec"]
    address = kubernetes_resources["ConfigMap/gateway-config"]["data"]["TFSERVING_ADDRESS"]

    assert service["clusterIP"] == "None"
    assert service["selector"] == {"app.kubernetes.io/name": "tfserving"}
    assert address == (
        f"dns:///tfserving-headless.{kustomization()['namespace']}.svc.cluster.local:8500"
    )


def test_tfserving_probes_use_grpc_health_on_the_grpc_port(
    kubernetes_resources: Resources,
) -> None:
    tfserving = container(kubernetes_resources, "Deployment/tfserving", "tfserving")

    assert "--enable_grpc_healthcheck_service=true" in tfserving["args"]
    for probe in PROBES:
        assert tfserving[probe]["grpc"] == {"port": 8500}, probe


def test_tfserving_args_are_compose_s_plus_pod_tuning(
    kubernetes_resources: Resources, compose: dict[str, Any]
) -> None:
    tfserving = container(kubernetes_resources, "Deployment/tfserving", "tfserving")
    compose_service = compose["services"]["tfserving"]

    assert tfserving["image"] == compose_service["image"]
    assert tfserving["command"] == compose_service["entrypoint"]
    # The same flags, plus what a pod's CPU limit and DNS-based discovery need.
    assert set(tfserving["args"]) - set(compose_service["command"]) == {
        "--tensorflow_intra_op_parallelism=4",
        "--tensorflow_inter_op_parallelism=4",
        "--grpc_channel_arguments=grpc.max_connection_age_ms=300000,"
        "grpc.max_connection_age_grace_ms=30000",
    }
    assert set(compose_service["command"]) <= set(tfserving["args"])


def test_tfserving_reads_the_model_repository_the_gateway_writes(
    kubernetes_resources: Resources,
) -> None:
    spec = pod_spec(kubernetes_resources, "Deployment/tfserving")
    copier = container(kubernetes_resources, "Deployment/tfserving", "models")
    tfserving = container(kubernetes_resources, "Deployment/tfserving", "tfserving")
    claim = kubernetes_resources["PersistentVolumeClaim/model-repository"]["spec"]

    assert copier["volumeMounts"] == [{"name": "config", "mountPath": "/srv/config"}]
    assert {m["name"]: (m["mountPath"], m.get("readOnly")) for m in tfserving["volumeMounts"]} == {
        "models": ("/models", True),
        "config": ("/config", True),
        "tmp": ("/tmp", None),
    }
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"] == {
        "claimName": "model-repository",
        "readOnly": True,
    }
    # Gateway and TF Serving pods on different nodes mount it at the same time.
    assert claim["accessModes"] == ["ReadWriteMany"]


def test_the_repository_is_seeded_once_without_overwriting_published_versions(
    kubernetes_resources: Resources,
) -> None:
    seed = container(kubernetes_resources, "Job/model-repository-seed", "seed")
    spec = pod_spec(kubernetes_resources, "Job/model-repository-seed")
    gateway = pod_spec(kubernetes_resources, "Deployment/gateway")

    assert seed["command"] == ["sh", "-c", "cp -Rn /models/. /srv/models/"]
    assert seed["volumeMounts"] == [{"name": "model-repository", "mountPath": "/srv/models"}]
    assert spec["volumes"][0]["persistentVolumeClaim"] == {"claimName": "model-repository"}
    # Written as the gateway's user, so the gateway may add versions to those folders.
    assert spec["securityContext"]["runAsUser"] == gateway["securityContext"]["runAsUser"]


def test_migration_job_runs_migrate_with_the_gateway_image_and_settings(
    kubernetes_resources: Resources,
) -> None:
    migrate = container(kubernetes_resources, "Job/gateway-migrate", "migrate")
    gateway = container(kubernetes_resources, "Deployment/gateway", "gateway")
    waiter = container(kubernetes_resources, "Deployment/gateway", "wait-for-migrations")

    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate["image"] == gateway["image"] == waiter["image"]
    assert migrate["envFrom"] == gateway["envFrom"] == waiter["envFrom"]
    assert "manage.py migrate --check" in waiter["command"][-1]


def test_secret_example_defines_the_secret_the_pods_reference(
    kubernetes_resources: Resources,
) -> None:
    secret = kubernetes_resources["Secret/gateway-secrets"]
    gateway = container(kubernetes_resources, "Deployment/gateway", "gateway")

    assert {"secretRef": {"name": "gateway-secrets"}} in gateway["envFrom"]
    assert sorted(secret["stringData"]) == ["DATABASE_URL", "DJANGO_SECRET_KEY", "REDIS_URL"]
    assert all("REPLACE" in value for value in secret["stringData"].values())
