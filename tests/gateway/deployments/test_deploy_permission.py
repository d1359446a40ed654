"""The deploy permission: separate from the predict grant, staff have it, and a caller
without it gets exactly the 404 of an unknown model on every deployment route."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from predictions.access.services import issue_api_key
from predictions.deployments.models import DeployGrant, DeploymentEvent
from tests.gateway.conftest import make_user
from tests.gateway.deployments import repository as demo
from tests.gateway.deployments.calls import V1


def _archive() -> dict:
    upload = SimpleUploadedFile("v.tar.gz", demo.version_archive(V1))
    return {"data": {"archive": upload}, "format": "multipart"}


ROUTES = {
    "list versions": ("get", "/v1/models/{name}/versions", {}),
    "publish": ("post", "/v1/models/{name}/versions", None),
    "delete version": ("delete", "/v1/models/{name}/versions/2", {}),
    "move label": (
        "put",
        "/v1/models/{name}/labels/canary",
        {"data": {"version": 1}, "format": "json"},
    ),
    "read traffic": ("get", "/v1/models/{name}/traffic", {}),
    "set traffic": (
        "put",
        "/v1/models/{name}/traffic",
        {"data": {"split": {"stable": 100}}, "format": "json"},
    ),
    "history": ("get", "/v1/models/{name}/deployments", {}),
    "rollback": ("post", "/v1/models/{name}:rollback", {}),
}


def call(client: APIClient, route: str, name: str):
    method, path, options = ROUTES[route]
    return getattr(client, method)(
        path.format(name=name), **(options if options is not None else _archive())
    )


@pytest.mark.parametrize("route", ROUTES)
def test_a_caller_without_the_deploy_permission_gets_the_unknown_models_404(
    repository: Path, predictor_client: APIClient, route: str
) -> None:
    before = demo.served_files(repository)

    refused = call(predictor_client, route, "half_plus_two")
    unknown = call(predictor_client, route, "no_such_model")

    assert refused.status_code == unknown.status_code == 404
    assert refused.json() == {
        "error": "Servable not found for request: Latest(half_plus_two)",
        "code": "not_found",
    }
    assert unknown.json() == {
        "error": "Servable not found for request: Latest(no_such_model)",
        "code": "not_found",
    }
    assert refused.headers.get("Allow") == unknown.headers.get("Allow")
    assert demo.served_files(repository) == before
    assert DeploymentEvent.objects.exclude(actor_name="seed").count() == 0


def test_an_upload_is_not_read_for_a_caller_without_the_permission(
    repository: Path, predictor_client: APIClient
) -> None:
    call(predictor_client, "publish", "half_plus_two")

    assert (
        not (repository / ".incoming").exists() or list((repository / ".incoming").iterdir()) == []
    )


def test_the_predict_grant_alone_does_not_allow_deploying_but_still_allows_predicting(
    repository: Path, predictor_client: APIClient
) -> None:
    assert call(predictor_client, "read traffic", "half_plus_two").status_code == 404
    answer = predictor_client.post("/v1/models/half_plus_two:predict", demo.BODY, format="json")
    assert answer.status_code == 200


def test_staff_may_deploy_without_a_grant(
    repository: Path, client_for: Callable[[User], APIClient]
) -> None:
    staff = client_for(make_user("operator", is_staff=True))

    assert call(staff, "read traffic", "half_plus_two").status_code == 200


def test_a_group_grant_and_an_every_model_grant_allow_deploying(
    repository: Path, client_for: Callable[[User], APIClient]
) -> None:
    in_group = make_user("member")
    group = Group.objects.create(name="ml-platform")
    group.user_set.add(in_group)
    DeployGrant.objects.create(group=group, model_name="half_plus_two")
    everything = make_user("lead")
    DeployGrant.objects.create(user=everything, model_name="*")

    assert call(client_for(in_group), "read traffic", "half_plus_two").status_code == 200
    assert call(client_for(in_group), "read traffic", "newest").status_code == 404
    assert call(client_for(everything), "read traffic", "newest").status_code == 200


def test_an_api_key_acts_for_its_owner(repository: Path, deployer: User) -> None:
    key = issue_api_key(deployer, "ci pipeline").key
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)

    response = call(client, "set traffic", "half_plus_two")

    assert response.status_code == 200, response.json()
    assert DeploymentEvent.objects.get(kind="traffic").detail["api_key_id"] is not None


def test_a_deactivated_deployer_loses_the_permission_at_once(
    repository: Path, deployer: User, deployer_client: APIClient
) -> None:
    deployer.is_active = False
    deployer.save()

    assert call(deployer_client, "read traffic", "half_plus_two").status_code == 404


def test_anonymous_callers_get_401(repository: Path) -> None:
    assert call(APIClient(), "read traffic", "half_plus_two").status_code == 401
