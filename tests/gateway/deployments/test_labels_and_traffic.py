"""Labels move only to AVAILABLE versions; requests that name no version follow the
model's traffic policy (split, sticky, shadow); requests that name one are served as named."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from predictions.audit import writer as audit_writer
from predictions.audit.models import AuditRecord
from predictions.deployments import model_servers, shadow
from predictions.deployments.models import DeploymentEvent
from tests.gateway.conftest import make_user
from tests.gateway.deployments import repository as demo
from tests.gateway.deployments.calls import answers_of, put_traffic

PREDICT = "/v1/models/half_plus_two:predict"


def test_moved_label_serves_the_new_version(repository: Path, deployer_client: APIClient) -> None:
    response = deployer_client.put(
        "/v1/models/half_plus_two/labels/canary", {"version": 1}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["applied"] is True
    assert response.json()["deployment"]["summary"] == "label canary moved to version 1 (was 2)"
    assert answers_of(deployer_client, "/labels/canary") == demo.V1_ANSWERS


def test_a_new_label_can_be_set(repository: Path, deployer_client: APIClient) -> None:
    deployer_client.put("/v1/models/half_plus_two/labels/blue", {"version": 2}, format="json")

    assert answers_of(deployer_client, "/labels/blue") == demo.V2_ANSWERS


def test_label_get_is_still_tf_servings_status(
    repository: Path, deployer_client: APIClient
) -> None:
    response = deployer_client.get("/v1/models/half_plus_two/labels/stable")

    assert response.status_code == 200
    assert [v["version"] for v in response.json()["model_version_status"]] == ["1", "2"]


@pytest.mark.parametrize(
    ("model", "version", "message"),
    [
        ("half_plus_two", 9, "Version 9 of model half_plus_two is not in the model repository"),
        (
            "newest",
            1,
            "Version 1 of model newest is not served: the model's version policy serves the "
            "latest version",
        ),
    ],
)
def test_a_label_cannot_point_at_a_version_that_is_not_available(
    repository: Path, deployer_client: APIClient, model: str, version: int, message: str
) -> None:
    response = deployer_client.put(
        f"/v1/models/{model}/labels/stable", {"version": version}, format="json"
    )

    assert (response.status_code, response.json()["error"]) == (409, message)


def test_a_label_waits_for_its_version_to_be_available_on_the_model_server(
    repository: Path, deployer_client: APIClient
) -> None:
    # On disk and wanted by the policy, but the server reads the disk only on a reload.
    shutil.copytree(repository / "half_plus_two" / "1", repository / "half_plus_two" / "3")

    response = deployer_client.put(
        "/v1/models/half_plus_two/labels/canary", {"version": 3}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["error"] == (
        "Version 3 of model half_plus_two is not loaded on 1 of 1 model servers; a label can "
        "point only at a version that is AVAILABLE"
    )


def test_split_90_10_sends_a_tenth_of_unnamed_requests_to_the_canary(
    repository: Path, deployer_client: APIClient
) -> None:
    assert put_traffic(deployer_client, {"split": {"stable": 90, "canary": 10}}).status_code == 200

    answers = Counter(
        deployer_client.post(PREDICT, demo.BODY, format="json")["X-Model-Version"]
        for _ in range(2000)
    )

    recorded = Counter(
        AuditRecord.objects.filter(method="predict", model_name="half_plus_two").values_list(
            "model_version", flat=True
        )
    )
    # Smooth weighted round robin: exactly one in ten (10% +/- 2% would do).
    assert recorded == {1: 1800, 2: 200}
    assert answers == {"1": 1800, "2": 200}
    assert set(
        AuditRecord.objects.filter(method="predict").values_list("traffic_route", flat=True)
    ) == {"split"}


def test_requests_that_name_a_version_or_label_are_served_as_named(
    repository: Path, deployer_client: APIClient
) -> None:
    put_traffic(deployer_client, {"split": {"canary": 100}})

    assert answers_of(deployer_client) == demo.V2_ANSWERS
    assert answers_of(deployer_client, "/labels/stable") == demo.V1_ANSWERS
    assert answers_of(deployer_client, "/versions/1") == demo.V1_ANSWERS


def test_a_split_can_name_version_numbers(repository: Path, deployer_client: APIClient) -> None:
    response = put_traffic(deployer_client, {"split": {"1": 100}})

    assert response.status_code == 200, response.json()
    assert answers_of(deployer_client) == demo.V1_ANSWERS


def test_sticky_callers_always_see_one_version(
    repository: Path, deployer_client: APIClient, client_for: Callable[[User], APIClient]
) -> None:
    put_traffic(deployer_client, {"split": {"stable": 50, "canary": 50}, "sticky": True})
    callers = [client_for(make_user(f"caller{n}", "half_plus_two")) for n in range(16)]

    seen = [
        {client.post(PREDICT, demo.BODY, format="json")["X-Model-Version"] for _ in range(10)}
        for client in callers
    ]

    assert all(len(versions) == 1 for versions in seen), seen
    assert set().union(*seen) == {"1", "2"}  # stickiness is per caller, not one version for all


@pytest.fixture
def queued_audit(settings: Settings) -> Iterator[None]:
    """Audit records wait in a queue this test flushes: the shadow threads only enqueue."""
    settings.AUDIT_SYNC = False
    audit_writer.set_writer(
        audit_writer.AuditWriter(queue_size=10_000, flush_seconds=1, background=False)
    )
    yield


def flush_shadows() -> None:
    shadow.reset()  # waits for the copies in flight
    audit_writer.flush()


def test_shadowing_leaves_answers_unchanged_and_records_the_shadows_outcomes(
    repository: Path, deployer_client: APIClient, queued_audit: None
) -> None:
    put_traffic(
        deployer_client,
        {"split": {"stable": 100}, "shadow": {"target": "canary", "percent": 50}},
    )

    answers = [answers_of(deployer_client) for _ in range(20)]
    flush_shadows()

    assert answers == [demo.V1_ANSWERS] * 20
    copies = AuditRecord.objects.filter(method="shadow")
    assert copies.count() == 10
    assert set(
        copies.values_list("model_version", "http_status", "grpc_code", "shadow_differs")
    ) == {(2, 200, "OK", True)}
    primary_ids = set(
        AuditRecord.objects.filter(method="predict").values_list("request_id", flat=True)
    )
    assert set(copies.values_list("request_id", flat=True)) <= primary_ids


def test_the_shadow_share_counts_only_requests_the_split_sends_elsewhere(
    repository: Path, deployer_client: APIClient, queued_audit: None
) -> None:
    put_traffic(
        deployer_client,
        {"split": {"stable": 90, "canary": 10}, "shadow": {"target": "canary", "percent": 20}},
    )

    for _ in range(100):
        answers_of(deployer_client)
    flush_shadows()

    # 20% of the 90 requests served by stable; the canary's own 10 are not copied to it.
    assert AuditRecord.objects.filter(method="shadow", model_version=2).count() == 18


def test_a_shadow_with_the_same_answers_is_recorded_as_agreeing(
    repository: Path, deployer_client: APIClient, queued_audit: None
) -> None:
    put_traffic(
        deployer_client, {"split": {"stable": 100}, "shadow": {"target": "1", "percent": 100}}
    )

    answers_of(deployer_client)
    flush_shadows()

    assert list(
        AuditRecord.objects.filter(method="shadow").values_list("model_version", "shadow_differs")
    ) == [(1, False)]


@pytest.mark.parametrize(
    ("policy", "status", "message"),
    [
        (
            {"split": {"stable": 90, "canary": 20}},
            400,
            "split: The weights must sum to 100 (they sum to 110)",
        ),
        ({"split": {"blue": 100}}, 409, "Model half_plus_two has no label 'blue'"),
        (
            {"split": {"9": 100}},
            409,
            "Version 9 of model half_plus_two is not in the model repository",
        ),
        (
            {"split": {"no way": 100}},
            400,
            "split: 'no way' is neither a label nor a version number",
        ),
        (
            {"shadow": {"target": "gone", "percent": 5}},
            409,
            "Model half_plus_two has no label 'gone'",
        ),
    ],
)
def test_an_invalid_traffic_policy_is_refused_naming_the_problem(
    repository: Path, deployer_client: APIClient, policy: dict, status: int, message: str
) -> None:
    response = put_traffic(deployer_client, policy)

    assert (response.status_code, response.json()["error"]) == (status, message)
    assert deployer_client.get("/v1/models/half_plus_two/traffic").json() == {
        "model": "half_plus_two",
        "split": {},
        "sticky": False,
        "shadow": None,
    }


def test_traffic_policy_reads_back_as_it_was_set(
    repository: Path, deployer_client: APIClient
) -> None:
    policy = {
        "split": {"stable": 90, "canary": 10},
        "sticky": True,
        "shadow": {"target": "canary", "percent": 5.0},
    }
    put_traffic(deployer_client, policy)

    assert deployer_client.get("/v1/models/half_plus_two/traffic").json() == {
        "model": "half_plus_two",
        **policy,
    }


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            lambda c: None,
            "Version 1 of model half_plus_two is in use by label stable; point it elsewhere first",
        ),
        (
            lambda c: (
                c.put("/v1/models/half_plus_two/labels/stable", {"version": 2}, format="json"),
                put_traffic(c, {"split": {"1": 100}}),
            ),
            "Version 1 of model half_plus_two is in use by the traffic policy (1); point it "
            "elsewhere first",
        ),
    ],
)
def test_a_version_in_use_cannot_be_deleted(
    repository: Path, deployer_client: APIClient, setup: Callable, message: str
) -> None:
    setup(deployer_client)
    before = demo.served_files(repository)

    response = deployer_client.delete("/v1/models/half_plus_two/versions/1")

    assert (response.status_code, response.json()["error"]) == (409, message)
    assert demo.served_files(repository) == before


def test_a_deleted_version_is_no_longer_served_and_kept_for_a_rollback(
    repository: Path, deployer_client: APIClient
) -> None:
    deployer_client.put("/v1/models/half_plus_two/labels/canary", {"version": 1}, format="json")

    response = deployer_client.delete("/v1/models/half_plus_two/versions/2")

    assert response.status_code == 200, response.json()
    assert not (repository / "half_plus_two" / "2").exists()
    assert (repository / ".retired" / "half_plus_two" / "2" / "saved_model.pb").is_file()
    status = deployer_client.get("/v1/models/half_plus_two/versions/2").json()
    assert status["model_version_status"][0]["state"] == "END"
    assert answers_of(deployer_client) == demo.V1_ANSWERS  # the latest is now 1


def test_unknown_version_cannot_be_deleted(repository: Path, deployer_client: APIClient) -> None:
    response = deployer_client.delete("/v1/models/half_plus_two/versions/9")

    assert (response.status_code, response.json()["error"]) == (
        404,
        "Servable not found for request: Specific(half_plus_two, 9)",
    )


def test_versions_lists_states_policy_and_labels(
    repository: Path, deployer_client: APIClient
) -> None:
    response = deployer_client.get("/v1/models/half_plus_two/versions")

    assert response.json() == {
        "model": "half_plus_two",
        "version_policy": {"all": {}},
        "versions": [
            {"version": 1, "state": "AVAILABLE", "served": True, "labels": ["stable"]},
            {"version": 2, "state": "AVAILABLE", "served": True, "labels": ["canary"]},
        ],
        "retired": [],
    }


def test_a_change_the_model_server_refuses_is_undone(
    repository: Path, deployer_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse = model_servers.PushResult("s", applied=False, message="Invalid model config")
    real_push = model_servers.push
    pushes = iter([refuse])
    monkeypatch.setattr(
        model_servers,
        "push",
        lambda *args, **kwargs: next(pushes, None) or real_push(*args, **kwargs),
    )

    response = deployer_client.put(
        "/v1/models/half_plus_two/labels/canary", {"version": 1}, format="json"
    )

    assert (response.status_code, response.json()["error"]) == (
        409,
        "The model server refused the change, which was undone: Invalid model config",
    )
    assert not DeploymentEvent.objects.filter(kind="move_label").exists()
    assert answers_of(deployer_client, "/labels/canary") == demo.V2_ANSWERS
