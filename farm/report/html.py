"""One static HTML page for a run (or several): what a person opens from CI's artifacts.

`page()` reads the JUnit files (each one run, oldest first) into a Page, and
`render()` fills templates/report.html.j2 with it. The page needs no script
and no network: inline CSS and SVG, <details> for the long texts.
  the matrix: cell x runtime, base and series side by side (counts of each verdict);
  a strip of the last 30 runs of every failing or flaky test: from the
  history when there is one (farm.report.past.History), else from these files;
  the metrics: each run's values, and with 2+ runs a side the ratio and its
  95% interval (farm.report.stats), with the history's trend when there is one;
  each failure with its KTAP (the case's text) and the console excerpt in <details>.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from farm.model.errors import UserError
from farm.model.results import Status
from farm.model.suite_facts import LOG_PROPERTY
from farm.model.suite_id import SuiteId
from farm.report import junit, pooled, stats, svg
from farm.report.past import History

LAST = 30  # runs in a test's strip
CONSOLE_LINES = 60  # lines of the console log's tail in a failure's excerpt
_CONSOLE_READ = 256 * 1024  # bytes read from the end of a console log, at most
_TEXT_LIMIT = 64 * 1024  # characters of a case's text kept on the page
_REPORT = re.compile(r"\b(BUG:|WARNING:|Oops|Kernel panic|KASAN|UBSAN|possible circular locking|Call Trace:)")
TEMPLATES = Path(__file__).resolve().parent / "templates"
_ORDER = (Status.INPUT, Status.INFRA, Status.CRASH, Status.BUILD, Status.FAIL, Status.XFAIL, Status.SKIP, Status.PASS)
BAD = {Status.FAIL, Status.CRASH, Status.BUILD, Status.INFRA, Status.INPUT}


@dataclass
class Tally:
    counts: Counter[Status] = field(default_factory=Counter)

    @property
    def worst(self) -> Status:
        return next((s for s in _ORDER if self.counts[s]), Status.SKIP)

    @property
    def text(self) -> str:
        return ", ".join(f"{self.counts[s]} {s.value}" for s in _ORDER if self.counts[s])


@dataclass(frozen=True)
class Failure:
    suite: str
    test: str
    status: Status
    message: str
    ktap: str  # the case's own text: the KTAP lines and diagnostics the judge kept
    console: str  # the console log's tail, or where the log is
    runs: str  # "2 of 3 runs"


@dataclass(frozen=True)
class Strip:
    suite: str
    test: str
    svg: str
    summary: str  # "3 of 30 runs failed"
    source: str  # "history" or "these files"


@dataclass(frozen=True)
class Metric:
    name: str
    before: tuple[float, ...]
    after: tuple[float, ...]
    stat: stats.Stat | None
    samples_svg: str
    interval_svg: str
    trend_svg: str


@dataclass
class Page:
    title: str
    sources: list[str]
    generated: str
    runtimes: list[str]
    cells: list[str]
    matrix: dict[tuple[str, str], dict[str, Tally]]  # (cell, runtime) -> kernel -> tally
    failures: list[Failure]
    strips: list[Strip]
    metrics: list[Metric]  # judged by statistics (2+ runs a side, or exact)
    once: list[Metric]  # measured in one run a side: values only
    totals: Tally
    history: bool  # strips and trends came from a history file


def _where(suite: str) -> tuple[str, str, str]:
    """(kernel, cell without the kernel, runtime) of a suite name: "series-x86_64-thp-on/default"."""
    sid = SuiteId.parse(suite)
    if sid.kernel is None:
        return "run", sid.cell, sid.runtime or "-"
    return str(sid.kernel.value), sid.pair_key.partition("/")[0], sid.runtime or "-"


def _console(log: str, junit_path: Path) -> str:
    """The tail of the suite's console log, if it lies under the JUnit file's directory; else where it is."""
    if not log:
        return ""
    root = junit_path.resolve().parent
    path = Path(log) if os.path.isabs(log) else root / log
    try:
        real = path.resolve(strict=True)
        if not real.is_relative_to(root) or not real.is_file():
            return f"console log: {log} (not beside this JUnit file)"
        with real.open("rb") as f:
            f.seek(max(0, real.stat().st_size - _CONSOLE_READ))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return f"console log: {log} (not found here)"
    reports = [i for i, line in enumerate(lines) if _REPORT.search(line)]
    if reports:
        start = max(0, reports[0] - 10)
        shown = lines[start : start + CONSOLE_LINES]
        return "\n".join([f"console log: {log} (from just before its first kernel report)", *shown])
    tail = lines[-CONSOLE_LINES:]
    return "\n".join([f"console log: {log} (last {len(tail)} lines)", *tail])


def _read(path: Path) -> list[tuple[str, str, Status, str, str, str]]:
    """(suite, test, status, message, text, console log) of every case of one JUnit file."""
    rows = []
    for suite in junit.read(path):
        log = suite.property(LOG_PROPERTY) or ""
        for case in suite.cases:
            text = case.text.strip()
            message = case.text.split("\n", 1)[0] if case.status is not Status.PASS else ""
            rows.append((suite.name, case.name, case.status, message, text[:_TEXT_LIMIT], log))
    return rows


def page(paths: Sequence[Path], history: History | None = None, title: str = "zpfarm") -> Page:
    """The page of these runs (oldest first), with the history's strips and trends when given."""
    if not paths:
        raise UserError("no JUnit file to report on")
    runs = [(p, _read(p)) for p in paths]
    matrix: dict[tuple[str, str], dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
    totals = Tally()
    seen: dict[tuple[str, str], list[tuple[str, Status]]] = defaultdict(list)  # (run, status) of each run with it
    failures: dict[tuple[str, str], Failure] = {}
    names = [str(Path(*p.parts[-2:])) for p in paths]
    for (path, rows), run in zip(runs, names, strict=True):
        for suite, test, status, message, text, log in rows:
            kernel, cell, runtime = _where(suite)
            matrix[cell, runtime][kernel].counts[status] += 1
            totals.counts[status] += 1
            seen[suite, test].append((run, status))
            if status in BAD and (suite, test) not in failures:
                failures[suite, test] = Failure(suite, test, status, message, text, _console(log, path), "")
    n = len(runs)
    for key, f in failures.items():
        bad = sum(s in BAD for _, s in seen[key])
        failures[key] = Failure(f.suite, f.test, f.status, f.message, f.ktap, f.console, f"{bad} of {n} runs")
    metrics = _metrics(paths, history)
    cells = sorted({c for c, _ in matrix})
    runtimes = sorted({r for _, r in matrix})
    return Page(
        title=title,
        sources=names,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        runtimes=runtimes,
        cells=cells,
        matrix={k: dict(v) for k, v in matrix.items()},
        failures=sorted(failures.values(), key=lambda f: (_ORDER.index(f.status), f.suite, f.test)),
        strips=_strips(seen, history),
        metrics=[m for m in metrics if m.stat],
        once=[m for m in metrics if not m.stat],
        totals=totals,
        history=history is not None,
    )


def _strips(seen: dict[tuple[str, str], list[tuple[str, Status]]], history: History | None) -> list[Strip]:
    wanted = {k for k, v in seen.items() if any(s in BAD for _, s in v)}
    if history is not None:
        wanted |= set(history.flaky(LAST))
    out = []
    for suite, test in sorted(wanted):
        if history is not None:
            past = history.outcomes(suite, test, LAST)
            runs = [(p.run + (f" ({p.series})" if p.series else ""), p.status) for p in past]
            source = "history"
        else:
            runs = seen[suite, test][-LAST:]
            source = "these files"
        bad = sum(s in BAD for _, s in runs)
        out.append(Strip(suite, test, svg.strip(runs), f"{bad} of {len(runs)} runs failed", source))
    return out


def _metrics(paths: Sequence[Path], history: History | None) -> list[Metric]:
    base, series = pooled.split([pooled.read(p) for p in paths])
    a, b = pooled.samples(base), pooled.samples(series)
    settings = stats.Settings(band=history.noise_band if history is not None else stats.NOISE_BAND)
    shared = {pooled.label(k): k for k in a.keys() & b.keys()}
    judged = {s.metric: s for s in stats.compare({m: (a[k], b[k]) for m, k in shared.items()}, settings)}
    out = []
    for name, key in sorted(shared.items()):
        st = judged.get(name)
        ci = svg.interval(st.ratio, st.low, st.high, settings.band_of(name)) if st else ""
        trend = ""
        if history is not None:
            for kernel in ("base", "series"):
                points = history.trend(f"{kernel}-{key[0]}", key[1], key[2], LAST)
                trend += svg.trend([(p.run, p.median, p.low, p.high) for p in points], kernel)
        dots = svg.samples(a[key], b[key]) if st else ""
        out.append(Metric(name, tuple(a[key]), tuple(b[key]), st, dots, ci, trend))
    return out


def render(p: Page) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    return env.get_template("report.html.j2").render(page=p, Status=Status, markup=_markup)


def _markup(text: str) -> Any:
    """SVG built (and escaped) by farm.report.svg: included as it is."""
    import markupsafe

    return markupsafe.Markup(text)
