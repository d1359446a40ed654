"""Reading logged exchanges back: by model, version, status and time."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from predictions.payloads.models import PayloadLog
from tfserving.errors import InvalidInput

_AGE = re.compile(r"^(\d+)([smhd])$")
_AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_STATUS_CLASSES = {"ok": (0, 399), "error": (400, 599), "4xx": (400, 499), "5xx": (500, 599)}


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``3600s`` as a timedelta (ValueError otherwise)."""
    match = _AGE.match(text.strip())
    if match is None:
        raise ValueError(f"expected an age such as 30d, 12h, 90m or 3600s, got {text!r}")
    return timedelta(**{_AGE_UNITS[match.group(2)]: int(match.group(1))})


def parse_moment(text: str, *, now: datetime | None = None) -> datetime:
    """An ISO 8601 date or date-time (UTC unless it says otherwise), or an age (``7d``: seven
    days ago). ValueError otherwise."""
    moment = parse_datetime(text)
    if moment is None:
        day = parse_date(text)
        if day is not None:
            moment = datetime(day.year, day.month, day.day)
    if moment is None:
        try:
            return (now or timezone.now()) - parse_age(text)
        except ValueError:
            raise ValueError(
                f"expected an ISO 8601 date or time, or an age such as 7d, got {text!r}"
            ) from None
    return moment.replace(tzinfo=UTC) if timezone.is_naive(moment) else moment


@dataclass(frozen=True)
class LogFilter:
    model_name: str
    version: int | None = None
    status: str = ""  # an HTTP status, ok, error, 4xx or 5xx
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def from_query(cls, model_name: str, query: Mapping[str, str]) -> LogFilter:
        """From query parameters; InvalidInput (400) naming the parameter that is wrong."""
        version = query.get("version") or None
        if version is not None and not version.isdigit():
            raise InvalidInput(f"version: expected a version number, got {version!r}")
        status = query.get("status", "")
        if status and status not in _STATUS_CLASSES and not status.isdigit():
            raise InvalidInput(
                f"status: expected an HTTP status, ok, error, 4xx or 5xx, got {status!r}"
            )
        moments = {}
        for name in ("since", "until"):
            text = query.get(name)
            if text:
                try:
                    moments[name] = parse_moment(text)
                except ValueError as error:
                    raise InvalidInput(f"{name}: {error}") from None
        return cls(model_name, int(version) if version else None, status, **moments)

    def apply(self, logs: QuerySet[PayloadLog]) -> QuerySet[PayloadLog]:
        logs = logs.filter(model_name=self.model_name)
        if self.version is not None:
            logs = logs.filter(model_version=self.version)
        if self.status in _STATUS_CLASSES:
            low, high = _STATUS_CLASSES[self.status]
            logs = logs.filter(http_status__gte=low, http_status__lte=high)
        elif self.status:
            logs = logs.filter(http_status=int(self.status))
        if self.since is not None:
            logs = logs.filter(created_at__gte=self.since)
        if self.until is not None:
            logs = logs.filter(created_at__lt=self.until)
        return logs


def payload_logs(log_filter: LogFilter) -> QuerySet[PayloadLog]:
    """The model's logged exchanges that pass the filter, newest first."""
    return log_filter.apply(PayloadLog.objects.all()).order_by("-id")


def exported_logs(log_filter: LogFilter) -> Iterator[PayloadLog]:
    """The same, oldest first, streamed in chunks (for evaluation sets of any size)."""
    return (
        log_filter.apply(PayloadLog.objects.all())
        .order_by("created_at", "id")
        .iterator(chunk_size=1_000)
    )
