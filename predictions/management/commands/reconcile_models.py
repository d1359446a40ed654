"""manage.py reconcile_models: compare every model server with the deployment tables once,
push the config where they differ, print what was found. Exit status 1 if a model server
did not answer or refused the config."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from predictions.deployments import reconciler


class Command(BaseCommand):
    help = "Bring every model server in step with the deployment tables, once."

    def handle(self, *args: Any, **options: Any) -> None:
        reports = reconciler.reconcile_once()
        if not reports:
            raise CommandError("TFSERVING_ADDRESS resolves to no model server")
        failed = False
        for report in reports:
            self.stdout.write(f"{report.backend}: {report.outcome}")
            for line in report.drift:
                self.stdout.write(f"  drift: {line}")
            for line in report.problems:
                self.stdout.write(f"  problem: {line}")
            failed |= report.outcome.startswith(("unreachable", "push failed"))
        if failed:
            raise CommandError("Not every model server is in step")
