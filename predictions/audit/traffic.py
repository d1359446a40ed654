"""Inference traffic per model over the last hour or day, read from the audit records.

What the operations page draws: per model and time bucket, the request rate, the
share of 4xx and 5xx answers, and the median and 95th percentile latency of
successful requests. Counts are aggregated in the database (one GROUP BY over
the window, using the (model_name, created_at) index); percentiles have no
portable SQL aggregate (SQLite has none), so they are computed here over a sample
of at most LATENCY_SAMPLE_PER_MODEL latencies per model, taken as every k-th
record by id so the sample is spread evenly over the window. Two queries per
window, whatever the traffic.

``version_traffic`` compares the versions of each model over a window, for deciding
whether to promote or roll back a canary: each version's share of the requests,
p50/p95 latency and error rate, and what the shadow copies sent to it found (how
often its answer differed from the client's). Three queries per window.
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

from predictions.audit.models import AuditRecord

INFERENCE_METHODS = ("predict", "classify", "regress")
# Requests for names outside the ones asked about (a client's typo, a removed model)
# share one row, so a client cannot add rows and charts at will.
OTHER_MODELS = "other"
SHADOW_METHOD = "shadow"  # a shadow copy of a request (deployments/shadow.py)
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
    window: Window,
    *,
    now: datetime | None = None,
    models: Iterable[str] = (),
    others_as_one: bool = False,
) -> list[ModelTraffic]:
    """Traffic of every model with requests in the window, and of ``models`` (even idle).

    With ``others_as_one``, models not in ``models`` are counted together as OTHER_MODELS.
    """
    now = now or timezone.now()
    starts = window.bucket_starts(now)
    records = AuditRecord.objects.filter(
        created_at__gte=starts[0], created_at__lte=now, method__in=INFERENCE_METHODS
    ).exclude(model_name="")
    counts = _bucket_counts(records, window)
    successes = {model: sum(row["successes"] for row in rows) for model, rows in counts.items()}
    latencies = _sampled_latencies(records, window, successes)
    if others_as_one:
        counts, latencies = _others_as_one(counts, latencies, set(models))
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


def _others_as_one(
    counts: dict[str, list[dict]],
    latencies: dict[str, dict[datetime, list[float]]],
    known: set[str],
) -> tuple[dict[str, list[dict]], dict[str, dict[datetime, list[float]]]]:
    """The same figures with every model outside ``known`` summed into OTHER_MODELS."""
    grouped: dict[str, list[dict]] = defaultdict(list)
    other_rows: dict[datetime, dict] = {}
    for model, rows in counts.items():
        if model in known:
            grouped[model] = rows
            continue
        for row in rows:
            total = other_rows.setdefault(
                row["bucket"], {"model_name": OTHER_MODELS, "bucket": row["bucket"]}
            )
            for field in ("requests", "successes", "client_errors", "server_errors"):
                total[field] = total.get(field, 0) + row[field]
    if other_rows:
        grouped[OTHER_MODELS] = list(other_rows.values())
    grouped_latencies: dict[str, dict[datetime, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for model, by_bucket in latencies.items():
        target = model if model in known else OTHER_MODELS
        for bucket, values in by_bucket.items():
            grouped_latencies[target][bucket].extend(values)
    return grouped, grouped_latencies


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


@dataclass(frozen=True)
class VersionTraffic:
    """One version of a model over a window (version None: failed before one was known)."""

    version: int | None
    requests: int
    errors: int
    share_percent: float
    p50_ms: float | None
    p95_ms: float | None
    shadow_copies: int = 0
    shadow_differs: int = 0
    shadow_errors: int = 0

    @property
    def error_percent(self) -> float | None:
        return 100.0 * self.errors / self.requests if self.requests else None

    @property
    def disagreement_percent(self) -> float | None:
        """Of the shadow copies this version answered, how many answered differently."""
        answered = self.shadow_copies - self.shadow_errors
        return 100.0 * self.shadow_differs / answered if answered > 0 else None


def version_traffic(
    window: Window, *, now: datetime | None = None
) -> dict[str, list[VersionTraffic]]:
    """Per model with traffic in the window, its versions side by side (newest first)."""
    now = now or timezone.now()
    records = AuditRecord.objects.filter(
        created_at__gte=window.bucket_starts(now)[0], created_at__lte=now
    ).exclude(model_name="")
    errors = Count("id", filter=Q(http_status__gte=400))
    served = {
        (row["model_name"], row["model_version"]): row
        for row in records.filter(method__in=INFERENCE_METHODS)
        .values("model_name", "model_version")
        .annotate(
            requests=Count("id"),
            errors=errors,
            successes=Count("id", filter=Q(http_status__lt=400)),
        )
        .order_by()
    }
    shadows = {
        (row["model_name"], row["model_version"]): row
        for row in records.filter(method=SHADOW_METHOD)
        .values("model_name", "model_version")
        .annotate(
            copies=Count("id"), differs=Count("id", filter=Q(shadow_differs=True)), errors=errors
        )
        .order_by()
    }
    latencies = _version_latencies(records, {key: row["successes"] for key, row in served.items()})
    totals: dict[str, int] = defaultdict(int)
    for (model, _), row in served.items():
        totals[model] += row["requests"]
    by_model: dict[str, list[VersionTraffic]] = defaultdict(list)
    for model, version in sorted(set(served) | set(shadows), key=_newest_first):
        row, copies = served.get((model, version), {}), shadows.get((model, version), {})
        sample = latencies.get((model, version), [])
        requests = row.get("requests", 0)
        by_model[model].append(
            VersionTraffic(
                version=version,
                requests=requests,
                errors=row.get("errors", 0),
                share_percent=100.0 * requests / totals[model] if totals[model] else 0.0,
                p50_ms=percentile(sample, 50),
                p95_ms=percentile(sample, 95),
                shadow_copies=copies.get("copies", 0),
                shadow_differs=copies.get("differs", 0),
                shadow_errors=copies.get("errors", 0),
            )
        )
    return dict(by_model)


def _newest_first(key: tuple[str, int | None]) -> tuple[str, int]:
    model, version = key
    return model, -(version if version is not None else -1)


def _version_latencies(
    records: object, successes: dict[tuple[str, int | None], int]
) -> dict[tuple[str, int | None], list[float]]:
    """Latencies of successful requests per (model, version), every k-th record of each."""
    condition = Q()
    for (model, version), count in successes.items():
        if not count:
            continue
        chosen = Q(model_name=model, model_version=version)
        step = math.ceil(count / LATENCY_SAMPLE_PER_MODEL)
        if step > 1:
            chosen &= Q(Exact(Mod("id", step), 0))
        condition |= chosen
    latencies: dict[tuple[str, int | None], list[float]] = defaultdict(list)
    if not condition:
        return latencies
    rows = (
        records.filter(condition, http_status__lt=400, method__in=INFERENCE_METHODS)
        .values_list("model_name", "model_version", "latency_ms")
        .order_by()
    )
    for model, version, latency_ms in rows:
        latencies[(model, version)].append(latency_ms)
    return latencies


def _truncate(moment: datetime, kind: str) -> datetime:
    moment = timezone.localtime(moment)  # Trunc() cuts in the current time zone too
    if kind == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(second=0, microsecond=0)
