"""manage.py export_payloads --model M [--since 7d] [--until T] [--model-version V] [--status ok]

Writes a model's logged exchanges to standard output as JSON Lines, oldest first, one
exchange per line in the file sink's format: an evaluation set, or data for drift checks.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandError, CommandParser

from predictions.payloads import selectors
from predictions.payloads.models import PayloadLog
from tfserving.errors import InvalidInput

FIELDS = (
    "created_at",
    "request_id",
    "client_request_id",
    "trace_id",
    "model_name",
    "model_version",
    "version_label",
    "signature_name",
    "method",
    "caller",
    "http_status",
    "error_code",
    "reason",
    "request_bytes",
    "response_bytes",
    "request_truncated",
    "response_truncated",
    "redacted",
    "request",
    "response",
)


def json_line(log: PayloadLog) -> bytes:
    values = {name: getattr(log, name) for name in FIELDS}
    values["created_at"] = log.created_at.isoformat()
    return orjson.dumps(values) + b"\n"


class Command(BaseCommand):
    help = "Write a model's logged exchanges to standard output as JSON Lines, oldest first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", required=True, help="The model's name.")
        parser.add_argument("--since", help="ISO 8601 date or time, or an age such as 7d.")
        parser.add_argument("--until", help="ISO 8601 date or time (exclusive).")
        parser.add_argument("--model-version", help="Only this model version.")
        parser.add_argument("--status", help="An HTTP status, or ok, error, 4xx, 5xx.")

    def handle(self, *args: Any, **options: Any) -> None:
        query = {
            name: options[option]
            for name, option in (
                ("since", "since"),
                ("until", "until"),
                ("version", "model_version"),
                ("status", "status"),
            )
            if options[option] is not None
        }
        try:
            log_filter = selectors.LogFilter.from_query(options["model"], query)
        except InvalidInput as error:
            raise CommandError(f"--{error.message}") from None
        out = self.stdout._out.buffer if hasattr(self.stdout._out, "buffer") else None
        count = 0
        for log in selectors.exported_logs(log_filter):
            line = json_line(log)
            if out is not None:
                out.write(line)
            else:
                self.stdout.write(line.decode(), ending="")
            count += 1
        if out is not None:
            out.flush()
        self.stderr.write(f"Exported {count} exchanges of {options['model']}")
