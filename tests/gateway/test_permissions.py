"""Per-model grants: a model without a grant is indistinguishable from one that does not exist."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from predictions.models import ModelGrant
from tests.gateway.conftest import make_user

pytestmark = pytest.mark.django_db

BODY = {"instances": [1.0]}


@pytest.fixture
def bob(db) -> User:
    """Granted iris only."""
    return make_user("bob", "iris")


@pytest.fixture
def bob_client(bob: User, client_for, model_server_address: str) -> APIClient:
    return client_for(bob)


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("post", ":predict"),
        ("post", "/versions/1:predict"),
        ("post", "/labels/stable:predict"),
        ("post", ":classify"),
        ("get", ""),
        ("get", "/versions/1"),
        ("get", "/metadata"),
    ],
)
def test_model_without_grant_answers_exactly_as_an_unknown_model(
    bob_client: APIClient, method: str, suffix: str
) -> None:
    call = getattr(bob_client, method)
    ungranted = call(f"/v1/models/half_plus_two{suffix}", BODY, format="json")
    unknown = call(f"/v1/models/no_such_model{suffix}", BODY, format="json")

    assert ungranted.status_code == unknown.status_code == 404
    assert ungranted.json() == {
        key: value.replace("no_such_model", "half_plus_two")
        for key, value in unknown.json().items()
    }


def test_granted_model_answers(bob_client: APIClient) -> None:
    response = bob_client.get("/v1/models/iris")

    assert response.status_code == 200


def test_group_grant_gives_access_and_leaving_the_group_takes_it_away_at_once(
    bob: User, bob_client: APIClient
) -> None:
    scientists = Group.objects.create(name="scientists")
    ModelGrant.objects.create(group=scientists, model_name="half_plus_two")
    bob.groups.add(scientists)
    assert (
        bob_client.post("/v1/models/half_plus_two:predict", BODY, format="json").status_code == 200
    )

    scientists.user_set.remove(bob)

    assert (
        bob_client.post("/v1/models/half_plus_two:predict", BODY, format="json").status_code == 404
    )


def test_new_grant_applies_at_once_despite_the_cache(bob: User, bob_client: APIClient) -> None:
    assert bob_client.get("/v1/models/sentiment").status_code == 404  # cached: no access

    ModelGrant.objects.create(user=bob, model_name="sentiment")

    assert bob_client.get("/v1/models/sentiment").status_code == 200


def test_deleted_grant_applies_at_once(bob: User, bob_client: APIClient) -> None:
    assert bob_client.get("/v1/models/iris").status_code == 200

    ModelGrant.objects.filter(user=bob).delete()

    assert bob_client.get("/v1/models/iris").status_code == 404


def test_deleting_a_group_removes_its_grants_from_members(bob: User, bob_client: APIClient) -> None:
    team = Group.objects.create(name="team")
    ModelGrant.objects.create(group=team, model_name="digits")
    bob.groups.add(team)
    assert bob_client.get("/v1/models/digits").status_code == 200

    team.delete()

    assert bob_client.get("/v1/models/digits").status_code == 404


def test_wildcard_grant_gives_every_model(client_for, model_server_address: str) -> None:
    dave = make_user("dave", "*")

    response = client_for(dave).get("/v1/models/digits")

    assert response.status_code == 200


def test_superuser_may_use_every_model_without_grants(
    client_for, model_server_address: str
) -> None:
    root = User.objects.create_superuser("root", password="x")

    response = client_for(root).post("/v1/models/half_plus_two:predict", BODY, format="json")

    assert response.status_code == 200


def test_grants_are_read_once_then_served_from_the_cache(bob_client: APIClient) -> None:
    bob_client.get("/v1/models/iris")

    with CaptureQueriesContext(connection) as queries:
        bob_client.get("/v1/models/iris")

    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    # The audit record (AUDIT_SYNC=1 in tests; its batch is one transaction, a COPY on
    # PostgreSQL); no grant lookup.
    audit_write = "COPY" if connection.vendor == "postgresql" else "INSERT INTO"
    expected = [f'{audit_write} "predictions_auditrecord"']
    assert [sql.split(" (")[0] for sql in statements] == expected
