"""Small inline SVG pictures for the HTML report: no script, no font, no network (pure).

Each function returns the markup of one <svg> element; every text in it is
escaped here, so the page can include it as it is. <title> children are the
tooltips a browser shows without any script.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from farm.model.results import Status

# Colours by status: green passes, red failures, dark red crashes, grey the rest.
COLOURS = {
    Status.PASS: "#2e7d32",
    Status.XFAIL: "#81c784",
    Status.SKIP: "#bdbdbd",
    Status.FAIL: "#c62828",
    Status.BUILD: "#ef6c00",
    Status.CRASH: "#6a1b1b",
    Status.INFRA: "#7b1fa2",
    Status.INPUT: "#7b1fa2",
}
BASE, SERIES = "#1565c0", "#ef6c00"
_CELL, _GAP, _HEIGHT = 10, 2, 16


def strip(runs: Sequence[tuple[str, Status]]) -> str:
    """One square per run, oldest on the left, coloured by its status."""
    width = max(1, len(runs) * (_CELL + _GAP))
    rects = "".join(
        f'<rect x="{i * (_CELL + _GAP)}" y="0" width="{_CELL}" height="{_HEIGHT}" fill="{COLOURS[status]}">'
        f"<title>{escape(run)}: {status.value}</title></rect>"
        for i, (run, status) in enumerate(runs)
    )
    label = escape(", ".join(f"{run} {status.value}" for run, status in runs), quote=True)
    return (
        f'<svg class="strip" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{_HEIGHT}" '
        f'role="img" aria-label="{label}">{rects}</svg>'
    )


def _scale(lo: float, hi: float, pixels: float, pad: float = 6) -> tuple[float, float, float]:
    """(lo, hi, pixels per unit) with a little room on both ends."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        lo, hi = (lo - 1, hi + 1) if math.isfinite(lo) else (0.0, 1.0)
    return lo, hi, (pixels - 2 * pad) / (hi - lo)


def samples(before: Sequence[float], after: Sequence[float], width: int = 260, height: int = 48) -> str:
    """Each run's value, in the order given: base (or run A) blue dots, series (or B) orange."""
    values = [*before, *after]
    lo, _, k = _scale(min(values, default=0.0), max(values, default=1.0), height)
    step = (width - 12) / max(1, max(len(before), len(after)) - 1)

    def dots(vs: Sequence[float], colour: str, name: str) -> str:
        return "".join(
            f'<circle cx="{6 + i * step:.1f}" cy="{height - 6 - (v - lo) * k:.1f}" r="3" fill="{colour}">'
            f"<title>{name} run {i + 1}: {v:g}</title></circle>"
            for i, v in enumerate(vs)
        )

    return (
        f'<svg class="samples" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="values per run">'
        f'<rect width="{width}" height="{height}" fill="#fafafa"/>{dots(before, BASE, "before")}'
        f"{dots(after, SERIES, 'after')}</svg>"
    )


def interval(ratio: float, low: float, high: float, band: float, width: int = 220, height: int = 24) -> str:
    """The ratio with its 95% interval on a line around 1, the noise band shaded."""
    lo = min(low, 1 - 2 * band, ratio) if math.isfinite(low) else 1 - 2 * band
    hi = max(high, 1 + 2 * band, ratio) if math.isfinite(high) else 1 + 2 * band
    lo, hi, k = _scale(lo, hi, width)

    def x(v: float) -> float:
        return 6 + (min(max(v, lo), hi) - lo) * k  # an infinite end is drawn at the edge

    mid = height / 2
    return (
        f'<svg class="interval" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="ratio {ratio:.3f}, 95% interval {low:.3f} to {high:.3f}, noise band {band:.1%}">'
        f'<rect x="{x(1 - band):.1f}" y="2" width="{x(1 + band) - x(1 - band):.1f}" height="{height - 4}" '
        f'fill="#e0e0e0"><title>noise band +-{band:.1%}</title></rect>'
        f'<line x1="{x(1):.1f}" x2="{x(1):.1f}" y1="0" y2="{height}" stroke="#757575"/>'
        f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{mid}" y2="{mid}" stroke="#212121" stroke-width="2"/>'
        f'<circle cx="{x(ratio):.1f}" cy="{mid}" r="4" fill="{SERIES}"><title>{ratio:.3f} '
        f"[{low:.3f}, {high:.3f}]</title></circle></svg>"
    )


def trend(
    points: Sequence[tuple[str, float, float, float]], label: str = "", width: int = 260, height: int = 60
) -> str:
    """(run, median, low, high) oldest first: a line through the medians, a whisker for each interval.

    label names the kernel: "base" draws in blue, anything else in orange.
    """
    if not points:
        return ""
    colour = BASE if label == "base" else SERIES
    lo, _, k = _scale(min(p[2] for p in points), max(p[3] for p in points), height)
    step = (width - 12) / max(1, len(points) - 1)

    def y(v: float) -> float:
        return height - 6 - (v - lo) * k

    path = " ".join(f"{6 + i * step:.1f},{y(p[1]):.1f}" for i, p in enumerate(points))
    whiskers = "".join(
        f'<line x1="{6 + i * step:.1f}" x2="{6 + i * step:.1f}" y1="{y(low):.1f}" y2="{y(high):.1f}" '
        f'stroke="#9e9e9e"/><circle cx="{6 + i * step:.1f}" cy="{y(median):.1f}" r="2.5" fill="{colour}">'
        f"<title>{escape(run)}: {median:g} [{low:g}, {high:g}]</title></circle>"
        for i, (run, median, low, high) in enumerate(points)
    )
    return (
        f'<svg class="trend" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label, quote=True)} trend over {len(points)} runs">'
        f'<text x="2" y="10" font-size="10" fill="#616161">{escape(label)}</text>'
        f'<polyline points="{path}" fill="none" stroke="{colour}"/>{whiskers}</svg>'
    )
