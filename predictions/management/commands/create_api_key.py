"""manage.py create_api_key USER NAME [--expires-days N]: print a new API key, once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from predictions.access import services


class Command(BaseCommand):
    help = "Create an API key for a user and print it (it is stored hashed: shown only now)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="The key's owner.")
        parser.add_argument("name", help="What the key is for, e.g. 'batch-scoring job'.")
        parser.add_argument(
            "--expires-days", type=int, default=None, help="Expire after N days (default: never)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        try:
            owner = User.objects.get(**{User.USERNAME_FIELD: options["username"]})
        except User.DoesNotExist:
            raise CommandError(f"No user {options['username']!r}") from None
        days = options["expires_days"]
        if days is not None and days <= 0:
            raise CommandError("--expires-days must be a positive number of days")
        expires_at = timezone.now() + timedelta(days=days) if days else None
        issued = services.issue_api_key(owner, options["name"], expires_at=expires_at)
        self.stderr.write(
            f"API key {issued.api_key.prefix} for {owner.get_username()}"
            + (f", expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "")
            + ". Store it now; it cannot be shown again. Use it as 'Authorization: Api-Key <key>'"
            " or 'X-API-Key: <key>'."
        )
        self.stdout.write(issued.key)
