"""manage.py publish_model PATH --model NAME [--version N] [--no-wait]: publish a version.

PATH is an archive (.tar.gz, .tar, .zip) or a SavedModel version folder. The same
checks and the same atomic move as POST /v1/models/{name}/versions; recorded as done
by ``--user`` (default: "manage.py").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from predictions.deployments import publishing, seeding, selectors
from predictions.deployments.console import actor_from, report
from tfserving.errors import GatewayError


class Command(BaseCommand):
    help = "Publish a SavedModel version (archive or folder) into the model repository."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # --version is the version to publish, replacing Django's (the program's version).
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="A .tar.gz/.tar/.zip or a version folder.")
        parser.add_argument("--model", required=True, help="The served model's name.")
        parser.add_argument("--version", type=int, default=None, help="Default: the next one.")
        parser.add_argument(
            "--no-wait", action="store_true", help="Do not wait for the version to be AVAILABLE."
        )
        parser.add_argument("--user", default=None, help="Record the change as this user's.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        actor = actor_from(options["user"])
        seeding.seed_once()
        model = selectors.served_model(options["model"])
        if model is None:
            raise CommandError(f"No served model {options['model']!r} (see manage.py add_model)")
        settings = {"version": options["version"], "wait": not options["no_wait"]}
        try:
            if path.is_dir():
                result = publishing.publish_folder(model, path, actor, **settings)
            else:
                with open(path, "rb") as archive:
                    result = publishing.publish(model, archive, actor, **settings)
        except OSError as error:
            raise CommandError(str(error)) from error
        except GatewayError as error:
            raise CommandError(error.message) from error
        report(self, result)
        self.stdout.write(f"  version {result.extra['version']}: {result.extra['state']}")
