"""manage.py add_model NAME [--base-path P] [--policy latest:N|all|specific:1,2]: serve a model.

The base path defaults to ``<MODEL_SERVER_REPOSITORY>/<NAME>``; publish its versions with
publish_model or POST /v1/models/{name}/versions.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from predictions.deployments import services
from predictions.deployments.console import actor_from, report
from predictions.deployments.state import VersionPolicy
from tfserving.errors import GatewayError


def parse_policy(text: str) -> VersionPolicy:
    kind, _, value = text.partition(":")
    try:
        if kind == "all" and not value:
            return VersionPolicy("all")
        if kind == "latest":
            return VersionPolicy("latest", count=int(value or 1))
        if kind == "specific" and value:
            return VersionPolicy("specific", versions=tuple(sorted(map(int, value.split(",")))))
    except ValueError:
        pass
    raise CommandError(f"--policy {text!r}: expected latest:N, all or specific:1,2")


class Command(BaseCommand):
    help = "Add a model to the served configuration."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--base-path", default="", help="As the model server sees it.")
        parser.add_argument("--policy", default="latest:1", type=parse_policy)
        parser.add_argument("--user", default=None, help="Record the change as this user's.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = services.add_model(
                actor_from(options["user"]),
                options["name"],
                base_path=options["base_path"],
                policy=options["policy"],
            )
        except GatewayError as error:
            raise CommandError(error.message) from error
        report(self, result)
