"""manage.py seed_models [--config-file F]: fill the deployment tables from MODEL_CONFIG_FILE.

Once per database: the gateway's workers do it themselves on first start, this is for
a deployment that wants it done before (e.g. right after migrate).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from predictions.deployments import seeding


class Command(BaseCommand):
    help = "Seed the served models from MODEL_CONFIG_FILE, unless that was done before."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--config-file", default=None, help="Default: MODEL_CONFIG_FILE.")

    def handle(self, *args: Any, **options: Any) -> None:
        added = seeding.seed_once(options["config_file"])
        if added:
            self.stdout.write(f"Seeded: {', '.join(added)}")
        else:
            self.stdout.write("Nothing to seed (seeded before, or the file has no models).")
