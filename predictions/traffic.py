"""Inference traffic per model over the last hour or day, read from the audit records.

What the operations page draws: per model and time bucket, the request rate, the
share of 4xx and 5xx answers, and the median and 95th percentile latency of
successful requests. Counts are aggregated in the database (one GROUP BY over
the window, using the (model_name, created_at) index); percentiles have no
portable SQL aggregate (SQLite has none), so they are computed here over a sample
of at most LATENCY_SAMPLE_PER_MODEL latencies per model, taken as every k-th
record by id so the sample is spread evenly over the window. Two queries per
window, whatever the traffic.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import Mod, Trunc
from django.db.models.lookups import Exact
from django.utils import timezone

from predictions.models import AuditRecord

INFERENCE_METHODS = ("predict", "classify", "regress")
LATENCY_SAMPLE_PER_MODEL = 5_000


@dataclass(frozen=True)
class Window:
    name: str
    title: str
    buckets: int
    bucket: timedelta
    trunc_kind: str  # the unit Trunc() cuts timestamps to: one bucket

    def bucket_starts(self, now: datetime) -> list[datetime]:
        last = _truncate(now, self.trunc_kind)
        return [last - self.bucket * (self.buckets - 1 - index) for index in range(self.buckets)]


WINDOWS = {
    "hour": Window("hour", "Last hour", 60, timedelta(minutes=1), "minute"),
    "day": Window("day", "Last day", 24, timedelta(hours=1), "hour"),
}


@dataclass(frozen=True)
class TrafficPoint:
    start: datetime
    requests: int
    requests_per_second: float
    client_errors: int  # 4xx
    server_errors: int  # 5xx
    p50_ms: float | None  # None: no successful request in the bucket
    p95_ms: float | None

    @property
    def client_error_percent(self) -> float | None:
        return 100.0 * self.client_errors / self.requests if self.requests else None

    @property
    def server_error_percent(self) -> float | None:
        return 100.0 * self.server_errors / self.requests if self.requests else None


@dataclass(frozen=True)
class ModelTraffic:
    model: str
    points: tuple[TrafficPoint, ...]
    p50_ms: float | None  # over the whole window
    p95_ms: float | None

    @property
    def requests(self) -> int:
        return sum(point.requests for point in self.points)

    @property
    def errors(self) -> int:
        return sum(point.client_errors + point.server_errors for point in self.points)


def model_traffic(
    window: Window, *, now: datetime | None = None, models: Iterable[str] = ()
) -> list[ModelTraffic]:
    """Traffic of every model with requests in the window, and of ``models`` (even idle)."""
    now = now or timezone.now()
    starts = window.bucket_starts(now)
    records = AuditRecord.objects.filter(
        created_at__gte=starts[0], created_at__lte=now, method__in=INFERENCE_METHODS
    ).exclude(model_name="")
    counts = _bucket_counts(records, window)
    successes = {model: sum(row["successes"] for row in rows) for model, rows in counts.items()}
    latencies = _sampled_latencies(records, window, successes)
    seconds = [window.bucket.total_seconds()] * (window.buckets - 1)
    seconds.append(max((now - starts[-1]).total_seconds(), 1.0))  # the bucket under way
    traffic = []
    for model in sorted(set(models) | set(counts)):
        by_bucket = {row["bucket"]: row for row in counts.get(model, ())}
        points = []
        for start, span in zip(starts, seconds, strict=True):
            row = by_bucket.get(start, {})
            sample = latencies[model].get(start, [])
            points.append(
                TrafficPoint(
                    start=start,
                    requests=row.get("requests", 0),
                    requests_per_second=row.get("requests", 0) / span,
                    client_errors=row.get("client_errors", 0),
                    server_errors=row.get("server_errors", 0),
                    p50_ms=percentile(sample, 50),
                    p95_ms=percentile(sample, 95),
                )
            )
        window_sample = [ms for values in latencies[model].values() for ms in values]
        traffic.append(
            ModelTraffic(
                model=model,
                points=tuple(points),
                p50_ms=percentile(window_sample, 50),
                p95_ms=percentile(window_sample, 95),
            )
        )
    return traffic


def percentile(values: Sequence[float], percent: float) -> float | None:
    """Nearest-rank percentile (a value that occurred); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(percent / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def _bucket_counts(records: object, window: Window) -> dict[str, list[dict]]:
    rows = (
        records.annotate(bucket=Trunc("created_at", window.trunc_kind))
        .values("model_name", "bucket")
        .annotate(
            requests=Count("id"),
            successes=Count("id", filter=Q(http_status__lt=400)),
            client_errors=Count("id", filter=Q(http_status__gte=400, http_status__lt=500)),
            server_errors=Count("id", filter=Q(http_status__gte=500)),
        )
        .order_by()  # the model's default ordering would split the groups
    )
    by_model: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_model[row["model_name"]].append(row)
    return by_model


def _sampled_latencies(
    records: object, window: Window, successes: dict[str, int]
) -> dict[str, dict[datetime, list[float]]]:
    """Latencies of successful requests by model and bucket, every k-th record per model."""
    condition = Q()
    for model, count in successes.items():
        if not count:
            continue
        step = math.ceil(count / LATENCY_SAMPLE_PER_MODEL)
        chosen = Q(model_name=model)
        if step > 1:
            chosen &= Q(Exact(Mod("id", step), 0))
        condition |= chosen
    latencies: dict[str, dict[datetime, list[float]]] = defaultdict(lambda: defaultdict(list))
    if not condition:
        return latencies
    rows = (
        records.filter(condition, http_status__lt=400)
        .annotate(bucket=Trunc("created_at", window.trunc_kind))
        .values_list("model_name", "bucket", "latency_ms")
        .order_by()
    )
    for model, bucket, latency_ms in rows:
        latencies[model][bucket].append(latency_ms)
    return latencies


def _truncate(moment: datetime, kind: str) -> datetime:
    moment = timezone.localtime(moment)  # Trunc() cuts in the current time zone too
    if kind == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(second=0, microsecond=0)
