"""manage.py remove_model NAME: stop serving a model (its folder stays; a rollback restores it)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from predictions.deployments import services
from predictions.deployments.console import actor_from, report
from tfserving.errors import GatewayError


class Command(BaseCommand):
    help = "Remove a model from the served configuration."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--user", default=None, help="Record the change as this user's.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = services.remove_model(actor_from(options["user"]), options["name"])
        except GatewayError as error:
            raise CommandError(error.message) from error
        report(self, result)
