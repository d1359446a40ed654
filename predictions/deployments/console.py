"""What the deployment management commands share: who acts, and how a change is printed."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from predictions.access.callers import Caller
from predictions.deployments.services import ChangeResult


def actor_from(username: str | None) -> Caller:
    """The user a command records as the actor ("manage.py" when none is named)."""
    if not username:
        return Caller(user_id=None, username="manage.py")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No user {username!r}")
    return Caller(user_id=user.pk, username=username)


def report(command: BaseCommand, result: ChangeResult) -> None:
    event = result.deployment
    if event is not None:
        command.stdout.write(f"{result.model}: {event.summary} (deployment #{event.pk})")
    for reason in result.pending:
        command.stderr.write(f"  not yet everywhere: {reason}")
