"""Gateway fixtures: users with grants, authenticated API clients, the real model server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from predictions.access.tokens import GatewayTokenObtainPairSerializer
from predictions.audit import writer as audit_writer
from predictions.deployments import routing, shadow
from predictions.inference import upstream
from predictions.models import ModelGrant
from tests.support.processes import ModelServerProcess

DEMO_MODELS = ("half_plus_two", "iris", "sentiment", "digits")
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def isolated_gateway(settings: Settings) -> Iterator[None]:
    """Each test starts with empty caches (grants, keys, throttles, traffic policies) and
    synchronous audit."""
    settings.AUDIT_SYNC = True
    # Password hashing is deliberately slow; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    routing.reset()
    yield
    cache.clear()
    shadow.reset()
    routing.reset()
    upstream.reset()
    writer = audit_writer.set_writer(None)
    if writer is not None:
        writer.stop()  # ends its thread and that thread's database connection


@pytest.fixture
def model_server_address(settings: Settings, modelserver_process: ModelServerProcess) -> str:
    """Points the gateway at the session's real model server (the client follows the setting)."""
    settings.TFSERVING_ADDRESS = modelserver_process.address
    return modelserver_process.address


def make_user(username: str, *models: str, **fields: object) -> User:
    user = User.objects.create_user(username, password=PASSWORD, **fields)
    for name in models:
        ModelGrant.objects.create(user=user, model_name=name)
    return user


@pytest.fixture
def alice(db) -> User:
    """A user granted every demo model."""
    return make_user("alice", *DEMO_MODELS)


def access_token(user: User) -> str:
    return str(GatewayTokenObtainPairSerializer.get_token(user).access_token)


@pytest.fixture
def client_for() -> Callable[[User], APIClient]:
    def make(user: User) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token(user)}")
        return client

    return make


@pytest.fixture
def alice_client(alice: User, client_for: Callable[[User], APIClient]) -> APIClient:
    return client_for(alice)


@pytest.fixture
def gateway(alice_client: APIClient, model_server_address: str) -> APIClient:
    """Alice's authenticated client, talking through the gateway to the real model server."""
    return alice_client
