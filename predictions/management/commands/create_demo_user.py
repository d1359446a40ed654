"""manage.py create_demo_user: the "demo" user with grants for every catalogue model.

Idempotent. The password is DEMO_PASSWORD if set, otherwise a new random one on
every run; either way it is printed, since this is the local demo's login.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from predictions.access.models import ModelGrant
from predictions.inference.catalogue import catalogue_model_names
from serving_project.environment import Environment

USERNAME = "demo"


class Command(BaseCommand):
    help = "Create or update the demo user and grant it every model in MODEL_CONFIG_FILE."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default=USERNAME)

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        password = Environment().str("DEMO_PASSWORD", "") or secrets.token_urlsafe(12)
        models = catalogue_model_names()
        with transaction.atomic():
            user, created = get_user_model().objects.get_or_create(username=username)
            user.set_password(password)
            user.is_active = True
            user.save()
            for name in models:
                ModelGrant.objects.get_or_create(user=user, model_name=name)
        action = "Created" if created else "Updated"
        self.stdout.write(f"{action} user {username!r} with access to: {', '.join(models)}")
        self.stdout.write(f"  username: {username}")
        self.stdout.write(f"  password: {password}")
