"""The Kubernetes NetworkPolicies: only the gateway reaches TF Serving, which reaches nothing.

The policies are read as a cluster enforces them (a pod selected by a policy of a
direction accepts only what one of its rules admits; a pod no policy selects accepts
everything), for the pods the manifests actually run, so a policy whose selector
misses its pods fails here as surely as a missing rule.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.test_kubernetes import Resources, pod_spec

# A pod of any other workload in the namespace (or a compromised one).
OTHER_POD = {"app.kubernetes.io/name": "something-else"}
OUTSIDE = None  # an address outside the cluster (an external PostgreSQL, a web site)


def pod_labels(resources: Resources, workload: str) -> dict[str, str]:
    return resources[workload]["spec"]["template"]["metadata"]["labels"]


def policies(resources: Resources) -> list[dict[str, Any]]:
    return [spec["spec"] for key, spec in resources.items() if key.startswith("NetworkPolicy/")]


def selects(selector: dict[str, Any], labels: dict[str, str] | None) -> bool:
    assert set(selector) <= {"matchLabels"}, selector  # all these policies use
    if labels is None:
        return False
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def admits(
    rule: dict[str, Any], peers_key: str, peer: dict[str, str] | None, port: int, protocol: str
) -> bool:
    ports = rule.get("ports")
    if ports is not None and not any(
        p["port"] == port and p.get("protocol", "TCP") == protocol for p in ports
    ):
        return False
    peers = rule.get(peers_key)
    if peers is None:
        return True
    assert all(set(p) == {"podSelector"} for p in peers), peers
    return any(selects(p["podSelector"], peer) for p in peers)


def passes(
    resources: Resources,
    direction: str,
    selected: dict[str, str] | None,
    peer: dict[str, str] | None,
    port: int,
    protocol: str,
) -> bool:
    """Whether the ``direction`` policies selecting ``selected`` let ``peer`` through."""
    applying = [
        spec
        for spec in policies(resources)
        if direction in spec["policyTypes"] and selects(spec["podSelector"], selected)
    ]
    rules = [rule for spec in applying for rule in spec.get(direction.lower(), [])]
    peers_key = "to" if direction == "Egress" else "from"
    return not applying or any(admits(r, peers_key, peer, port, protocol) for r in rules)


def allowed(
    resources: Resources,
    source: dict[str, str] | None,
    target: dict[str, str] | None,
    port: int,
    protocol: str = "TCP",
) -> bool:
    """Whether a connection from ``source`` pod labels to ``target`` (None: outside)
    on ``port`` passes both the source's egress and the target's ingress policies."""
    return passes(resources, "Egress", source, target, port, protocol) and passes(
        resources, "Ingress", target, source, port, protocol
    )


def test_gateway_pods_reach_tfserving_grpc_port(kubernetes_resources: Resources) -> None:
    gateway = pod_labels(kubernetes_resources, "Deployment/gateway")
    tfserving = pod_labels(kubernetes_resources, "Deployment/tfserving")

    assert allowed(kubernetes_resources, gateway, tfserving, 8500)


@pytest.mark.parametrize("port", [8500, 8501])
def test_tfserving_admits_gateway_pods_on_its_grpc_and_rest_ports(
    kubernetes_resources: Resources, port: int
) -> None:
    gateway = pod_labels(kubernetes_resources, "Deployment/gateway")
    tfserving = pod_labels(kubernetes_resources, "Deployment/tfserving")

    assert passes(kubernetes_resources, "Ingress", tfserving, gateway, port, "TCP")


@pytest.mark.parametrize("port", [8500, 8501])
@pytest.mark.parametrize(
    "workload", ["Job/gateway-migrate", "Job/model-repository-seed", "another pod"]
)
def test_no_other_pod_reaches_tfserving_ports(
    kubernetes_resources: Resources, workload: str, port: int
) -> None:
    source = OTHER_POD if workload == "another pod" else pod_labels(kubernetes_resources, workload)
    tfserving = pod_labels(kubernetes_resources, "Deployment/tfserving")

    assert not allowed(kubernetes_resources, source, tfserving, port)


def test_tfserving_listens_on_exactly_the_ports_the_policy_guards(
    kubernetes_resources: Resources,
) -> None:
    (server,) = pod_spec(kubernetes_resources, "Deployment/tfserving")["containers"]
    guarded = kubernetes_resources["NetworkPolicy/tfserving"]["spec"]["ingress"][0]["ports"]

    assert sorted(p["containerPort"] for p in server["ports"]) == sorted(p["port"] for p in guarded)


@pytest.mark.parametrize(
    ("target", "port", "protocol"),
    [
        ("gateway", 8000, "TCP"),
        ("gateway", 8080, "TCP"),
        ("another pod", 80, "TCP"),
        ("outside", 443, "TCP"),
        ("outside", 5432, "TCP"),
        ("outside", 53, "UDP"),
    ],
)
def test_tfserving_reaches_nothing(
    kubernetes_resources: Resources, target: str, port: int, protocol: str
) -> None:
    tfserving = pod_labels(kubernetes_resources, "Deployment/tfserving")
    destination = {
        "gateway": pod_labels(kubernetes_resources, "Deployment/gateway"),
        "another pod": OTHER_POD,
        "outside": OUTSIDE,
    }[target]

    assert not allowed(kubernetes_resources, tfserving, destination, port, protocol)


@pytest.mark.parametrize(
    ("target", "port", "protocol", "expected"),
    [
        ("tfserving", 8500, "TCP", True),  # gRPC: predictions, metadata, config reloads
        ("outside", 5432, "TCP", True),  # PostgreSQL
        ("outside", 6379, "TCP", True),  # Redis
        ("outside", 6380, "TCP", True),  # Redis with TLS (secret.example.yaml)
        ("outside", 53, "UDP", True),  # DNS
        ("outside", 53, "TCP", True),
        ("outside", 443, "TCP", False),
        ("outside", 22, "TCP", False),
        ("tfserving", 8501, "TCP", False),  # the gateway speaks only gRPC to it
        ("another pod", 8080, "TCP", False),
    ],
)
def test_gateway_egress_is_tfserving_database_cache_and_dns_only(
    kubernetes_resources: Resources, target: str, port: int, protocol: str, expected: bool
) -> None:
    gateway = pod_labels(kubernetes_resources, "Deployment/gateway")
    destination = {
        "tfserving": pod_labels(kubernetes_resources, "Deployment/tfserving"),
        "another pod": OTHER_POD,
        "outside": OUTSIDE,
    }[target]

    assert allowed(kubernetes_resources, gateway, destination, port, protocol) is expected


def test_clients_still_reach_the_gateway_proxy(kubernetes_resources: Resources) -> None:
    gateway = pod_labels(kubernetes_resources, "Deployment/gateway")

    assert allowed(kubernetes_resources, OUTSIDE, gateway, 8080)
