"""Every change is a recorded deployment event; POST /v1/models/{name}:rollback undoes the
newest one (again: the one before), restoring the model's previous state."""

from __future__ import annotations

from pathlib import Path

from rest_framework.test import APIClient

from predictions.deployments.models import DeploymentEvent
from tests.gateway.deployments import repository as demo
from tests.gateway.deployments.calls import V1, answers_of, publish, put_traffic

ROLLBACK = "/v1/models/half_plus_two:rollback"
TRAFFIC = "/v1/models/half_plus_two/traffic"


def traffic_of(client: APIClient) -> dict:
    return client.get(TRAFFIC).json()


def test_rollback_restores_the_previous_split_then_the_previous_label(
    repository: Path, deployer_client: APIClient
) -> None:
    deployer_client.put("/v1/models/half_plus_two/labels/canary", {"version": 1}, format="json")
    put_traffic(deployer_client, {"split": {"stable": 90, "canary": 10}})

    first = deployer_client.post(ROLLBACK)

    assert first.status_code == 200, first.json()
    assert traffic_of(deployer_client)["split"] == {}
    assert answers_of(deployer_client, "/labels/canary") == demo.V1_ANSWERS
    second = deployer_client.post(ROLLBACK)
    assert second.json()["deployment"]["summary"] == (
        "rolled back #"
        + str(DeploymentEvent.objects.get(kind="move_label").pk)
        + ": label canary moved to version 1 (was 2)"
    )
    assert answers_of(deployer_client, "/labels/canary") == demo.V2_ANSWERS


def test_rollback_of_a_publish_takes_the_version_out(
    repository: Path, deployer_client: APIClient
) -> None:
    publish(deployer_client, demo.version_archive(V1))

    response = deployer_client.post(ROLLBACK)

    assert response.status_code == 200, response.json()
    assert not (repository / "half_plus_two" / "3").exists()
    assert answers_of(deployer_client) == demo.V2_ANSWERS  # the latest is 2 again


def test_rollback_of_a_delete_brings_the_version_back(
    repository: Path, deployer_client: APIClient
) -> None:
    deployer_client.put("/v1/models/half_plus_two/labels/canary", {"version": 1}, format="json")
    deployer_client.delete("/v1/models/half_plus_two/versions/2")

    response = deployer_client.post(ROLLBACK)

    assert response.status_code == 200, response.json()
    assert (repository / "half_plus_two" / "2" / "saved_model.pb").is_file()
    assert answers_of(deployer_client, "/versions/2") == demo.V2_ANSWERS


def test_nothing_to_roll_back_is_a_conflict(repository: Path, deployer_client: APIClient) -> None:
    DeploymentEvent.objects.filter(model_name="newest").delete()  # a model without history

    response = deployer_client.post("/v1/models/newest:rollback")

    assert (response.status_code, response.json()["error"]) == (
        409,
        "Model newest has no change to roll back",
    )


def test_rolling_back_the_seeding_removes_the_model_from_the_model_server(
    repository: Path, deployer_client: APIClient
) -> None:
    response = deployer_client.post("/v1/models/newest:rollback")

    assert response.status_code == 200, response.json()
    answer = deployer_client.post("/v1/models/newest:predict", demo.BODY, format="json")
    assert (answer.status_code, answer.json()["error"]) == (
        404,
        "Servable not found for request: Latest(newest)",
    )
    assert (repository / "newest" / "2").is_dir()  # the files stay
    # ...and with nothing left to undo, the model is as unknown as any other.
    assert deployer_client.post("/v1/models/newest:rollback").status_code == 404


def test_history_lists_every_change_newest_first_with_who_and_the_states(
    repository: Path, deployer_client: APIClient
) -> None:
    deployer_client.put("/v1/models/half_plus_two/labels/canary", {"version": 1}, format="json")
    put_traffic(deployer_client, {"split": {"stable": 90, "canary": 10}})
    deployer_client.post(ROLLBACK)

    history = deployer_client.get("/v1/models/half_plus_two/deployments").json()["deployments"]

    assert [(e["kind"], e["actor"]) for e in history] == [
        ("rollback", "deployer"),
        ("traffic", "deployer"),
        ("move_label", "deployer"),
        ("add_model", "seed"),
    ]
    assert history[1]["rolled_back_by"] == history[0]["id"]
    assert history[1]["before"]["traffic"]["split"] == {}
    assert history[1]["after"]["traffic"]["split"] == {"canary": 10, "stable": 90}
    assert history[2]["before"]["labels"] == {"canary": 2, "stable": 1}
    assert history[2]["after"]["labels"] == {"canary": 1, "stable": 1}
    assert history[3]["before"] is None
