"""Management commands: the demo user."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command

from predictions.models import ModelGrant

pytestmark = pytest.mark.django_db


def run_create_demo_user() -> str:
    out = StringIO()
    call_command("create_demo_user", stdout=out)
    return out.getvalue()


def test_demo_user_gets_a_grant_for_every_catalogue_model(monkeypatch) -> None:
    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-1")

    output = run_create_demo_user()

    assert "password: demo-password-1" in output
    assert authenticate(username="demo", password="demo-password-1") is not None
    assert sorted(ModelGrant.objects.values_list("model_name", flat=True)) == [
        "digits",
        "half_plus_two",
        "iris",
        "sentiment",
    ]


def test_demo_user_command_is_idempotent(monkeypatch) -> None:
    monkeypatch.setenv("DEMO_PASSWORD", "demo-password-1")
    run_create_demo_user()

    output = run_create_demo_user()

    assert output.startswith("Updated user 'demo'")
    assert User.objects.filter(username="demo").count() == 1
    assert ModelGrant.objects.count() == 4


def test_demo_password_is_generated_and_printed_when_not_given(monkeypatch) -> None:
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)

    output = run_create_demo_user()

    password = output.split("password: ")[1].strip()
    assert len(password) >= 16
    assert authenticate(username="demo", password=password) is not None
