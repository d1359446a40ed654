"""manage.py prune_payloads [--older-than 30d]: delete old logged exchanges (retention).

Without --older-than it keeps PAYLOAD_RETENTION_DAYS (30) days. Run it daily (cron, a
Kubernetes CronJob). Only the database sink's rows: files rotate by size on their own.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from predictions.payloads import selectors, services


class Command(BaseCommand):
    help = "Delete logged exchanges older than --older-than (default PAYLOAD_RETENTION_DAYS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than", help="An age such as 30d, 12h, 90m (default PAYLOAD_RETENTION_DAYS)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["older_than"]:
            try:
                age = selectors.parse_age(options["older_than"])
            except ValueError as error:
                raise CommandError(f"--older-than: {error}") from None
        else:
            age = timedelta(days=settings.PAYLOAD_RETENTION_DAYS)
        deleted = services.prune(age)
        self.stdout.write(f"Deleted {deleted} logged exchanges older than {_in_words(age)}.")


def _in_words(age: timedelta) -> str:
    """30 days, 12 hours, 90 minutes (the largest unit the age is a whole number of)."""
    seconds = round(age.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"
