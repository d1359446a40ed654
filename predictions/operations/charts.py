"""Small line charts as inline SVG, drawn on the server (no JavaScript, no CDN).

One chart: a time axis of equal buckets, one or more series of values (None
leaves a gap), a y axis from zero to a round number, a legend.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 380
HEIGHT = 190
_LEFT, _RIGHT, _TOP, _BOTTOM = 46, 12, 30, 24
_Y_TICKS = 4
_X_LABELS = 5


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    values: Sequence[float | None]
    filled: bool = False  # shade the area under the line


def line_chart(
    title: str,
    times: Sequence[datetime],
    series: Sequence[Series],
    *,
    time_format: str = "%H:%M",
    value_format: Callable[[float], str] | None = None,
    kind: str = "",
) -> SafeString:
    """An SVG line chart; ``kind`` names it for CSS and tests (``data-chart``)."""
    fmt = value_format or format_number
    values = [value for line in series for value in line.values if value is not None]
    top = nice_ceiling(max(values, default=0.0))
    plot_width = WIDTH - _LEFT - _RIGHT
    plot_height = HEIGHT - _TOP - _BOTTOM
    count = max(len(times), 2)

    def x(index: int) -> float:
        return _LEFT + plot_width * index / (count - 1)

    def y(value: float) -> float:
        return _TOP + plot_height * (1 - value / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(kind)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text class="chart-title" x="{_LEFT}" y="16">{escape(title)}</text>',
    ]
    for tick in range(_Y_TICKS + 1):
        value = top * tick / _Y_TICKS
        ty = y(value)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{_LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(value))}</text>"
        )
    for index in _label_indexes(len(times)):
        anchor = "start" if index == 0 else "end" if index == len(times) - 1 else "middle"
        parts.append(
            f'<text class="axis" x="{x(index):.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}">'
            f"{escape(times[index].strftime(time_format))}</text>"
        )
    baseline = y(0.0)
    for line in series:
        for run in _runs(line.values):
            points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
            if line.filled and len(run) > 1:
                first, last = run[0][0], run[-1][0]
                parts.append(
                    f'<polygon class="area" fill="{line.color}" points="{x(first):.1f},'
                    f'{baseline:.1f} {points} {x(last):.1f},{baseline:.1f}"/>'
                )
            if len(run) == 1:
                index, value = run[0]
                parts.append(
                    f'<circle cx="{x(index):.1f}" cy="{y(value):.1f}" r="2.5" fill="{line.color}"/>'
                )
            else:
                parts.append(
                    f'<polyline class="line" fill="none" stroke="{line.color}" points="{points}"/>'
                )
    legend_x = WIDTH - _RIGHT
    for line in reversed(series):
        label = escape(line.name)
        legend_x -= 12 + 6.2 * len(line.name)
        parts.append(
            f'<rect x="{legend_x:.1f}" y="8" width="9" height="9" rx="2" fill="{line.color}"/>'
            f'<text class="legend" x="{legend_x + 12:.1f}" y="16">{label}</text>'
        )
        legend_x -= 8
    parts.append("</svg>")
    # Every text above went through escape(); the rest are numbers and fixed markup.
    return mark_safe("".join(parts))


def nice_ceiling(value: float) -> float:
    """The top of a y axis for ``value``: _Y_TICKS steps of 1, 2, 2.5 or 5 x 10^k (1 for 0)."""
    if value <= 0:
        return 1.0
    wanted = value / _Y_TICKS
    magnitude = 10 ** math.floor(math.log10(wanted))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if wanted <= step * magnitude * (1 + 1e-9):
            return step * magnitude * _Y_TICKS
    return 10 * magnitude * _Y_TICKS


def format_number(value: float) -> str:
    """Short axis labels: 0, 0.25, 12.5, 1.5k."""
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:.4g}"


def _label_indexes(count: int) -> list[int]:
    if count <= 1:
        return list(range(count))
    labels = min(_X_LABELS, count)
    return sorted({round(i * (count - 1) / (labels - 1)) for i in range(labels)})


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Stretches of consecutive values, split where a value is missing."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for index, value in enumerate(values):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((index, value))
    if current:
        runs.append(current)
    return runs
