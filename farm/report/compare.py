"""What changed between two sets of results: base vs series, or run A vs run B.

Results are paired by suite key and test name. A suite key drops the
kernel axis from the suite name ("series-x86_64-thp-on/default" ->
"x86_64-thp-on/default") when comparing base with series of one run, and
is the whole suite name when comparing two runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from farm.judge import triage
from farm.model.errors import UserError
from farm.model.matrix import Kernel
from farm.model.results import Status, Suite
from farm.model.suite_id import SuiteId
from farm.report import junit, render
from farm.report.stats import Stat

GOOD = {Status.PASS, Status.XFAIL, Status.SKIP}
_METRIC = re.compile(r"metric: ([a-z0-9_]+)=(-?[0-9.]+(?:e-?[0-9]+)?)")
# A metric "moved" when it changed by more than this fraction (and not from 0 to ~0).
METRIC_TOLERANCE = 0.10
COMMENT_LIMIT = 65536  # characters in a GitHub or GitLab comment
_CUT_NOTE_ROOM = 200


@dataclass(frozen=True)
class Case:
    suite: str
    name: str
    status: Status
    metrics: Mapping[str, float] = field(default_factory=dict)
    flaky: bool = False  # passed on a rerun after failing (JUnit <flakyFailure>)
    intermittent: bool = False  # an intermittent known issue covers it


class Kind(Enum):
    REGRESSION = "regression"  # good before, failed or crashed after
    FIX = "fix"  # failed, crashed or known-failing before, passes after (not an intermittent known issue)
    FLAKY = "flaky"  # passed after, on a rerun: not a regression
    NEW = "new"
    MISSING = "missing"
    METRIC = "metric"  # same verdict, a number moved


@dataclass(frozen=True)
class Change:
    kind: Kind
    suite: str
    test: str
    before: str
    after: str


def from_suites(suites: Iterable[Suite]) -> list[Case]:
    return [Case(s.name, c.name, c.status, dict(c.metrics), c.flaky, c.intermittent) for s in suites for c in s.cases]


@dataclass(frozen=True)
class Comparison:
    """What compare found: the changes, the two sides' names, and notes for the first lines."""

    changes: list[Change]
    before: str
    after: str
    notes: tuple[str, ...] = ()
    metrics: tuple[Stat, ...] = ()  # several runs a side (or --accel icount): farm.report.stats' verdicts


def files(before: Path, after: Path | None) -> Comparison:
    """One run's base against its series (after None), or run before against run after.

    Two runs on different point releases of a base say so first ("base moved");
    two files with no suite in common are bad input, never "no differences".
    """
    if after is None:
        old, new = split_kernels(from_junit(before))
        if not old or not new:
            missing = "base" if not old else "series"
            raise UserError(f"{before}: no {missing} suites to compare (give two JUnit files to compare runs)")
        return Comparison(diff(old, new), "base", "series")
    read_before, read_after = junit.read(before), junit.read(after)
    old, new = cases(read_before), cases(read_after)
    if not {c.suite for c in old} & {c.suite for c in new}:
        raise UserError(f"{before} and {after} have no suite in common: nothing to compare")
    was, now = _bases(read_before), _bases(read_after)
    moved = (f"base moved: {', '.join(was)} -> {', '.join(now)}",) if was and now and was != now else ()
    return Comparison(diff(old, new), before.name, after.name, moved)


def _bases(suites: Sequence[junit.ReadSuite]) -> tuple[str, ...]:
    """The distinct point releases (suite property "base") the suites ran on."""
    return tuple(sorted({base for suite in suites if (base := suite.property("base"))}))


def from_junit(path: Path) -> list[Case]:
    """Cases from a JUnit file written by zpfarm (metrics come back from the text).

    Anything else (not XML, not JUnit, a suite or case without a name) is one
    UserError naming the file; a metric that is not a number is left out.
    """
    return cases(junit.read(path))


def cases(suites: Sequence[junit.ReadSuite]) -> list[Case]:
    return [Case(s.name, c.name, c.status, _metrics(c.text), c.flaky, c.intermittent) for s in suites for c in s.cases]


def _metrics(text: str) -> dict[str, float]:
    found = {}
    for key, value in _METRIC.findall(text):
        try:
            found[key] = float(value)
        except ValueError:
            continue  # "1.2.3": not a number, not a metric
    return found


def split_kernels(cases: Sequence[Case]) -> tuple[list[Case], list[Case]]:
    """(base, series) cases of one run, keyed without the kernel axis."""
    base, series = [], []
    for c in cases:
        suite = SuiteId.parse(c.suite)
        keyed = Case(suite.pair_key, c.name, c.status, c.metrics, c.flaky, c.intermittent)
        if suite.kernel is Kernel.BASE:
            base.append(keyed)
        elif suite.kernel is Kernel.SERIES:
            series.append(keyed)
    return base, series


def diff(before: Sequence[Case], after: Sequence[Case]) -> list[Change]:
    """Changes for every suite present on both sides, in a stable order."""
    old = {(c.suite, c.name): c for c in before}
    new = {(c.suite, c.name): c for c in after}
    shared = {c.suite for c in before} & {c.suite for c in after}
    changes = []
    for key in sorted(old.keys() | new.keys()):
        if key[0] not in shared:
            continue
        a, b = old.get(key), new.get(key)
        if a is None:
            assert b is not None
            changes.append(Change(Kind.NEW, *key, "", b.status.value))
        elif b is None:
            changes.append(Change(Kind.MISSING, *key, a.status.value, ""))
        elif (verdict := triage.change(a.status, a.intermittent, b.status, b.flaky)) is triage.Verdict.FLAKY:
            changes.append(Change(Kind.FLAKY, *key, a.status.value, "pass on rerun"))
        elif verdict is triage.Verdict.REGRESSION:
            changes.append(Change(Kind.REGRESSION, *key, a.status.value, b.status.value))
        elif verdict is triage.Verdict.FIX:
            changes.append(Change(Kind.FIX, *key, _with_metrics(a), _with_metrics(b)))
        elif moved := _moved(a.metrics, b.metrics):
            changes.append(Change(Kind.METRIC, *key, moved[0], moved[1]))
    return changes


def _with_metrics(c: Case) -> str:
    shown = ", ".join(f"{k}={v:g}" for k, v in sorted(c.metrics.items()))
    return f"{c.status.value} ({shown})" if shown else c.status.value


def _moved(a: Mapping[str, float], b: Mapping[str, float]) -> tuple[str, str] | None:
    keys = [
        k for k in sorted(a.keys() & b.keys()) if abs(a[k] - b[k]) > METRIC_TOLERANCE * max(abs(a[k]), abs(b[k]), 1.0)
    ]
    if not keys:
        return None
    return ", ".join(f"{k}={a[k]:g}" for k in keys), ", ".join(f"{k}={b[k]:g}" for k in keys)


def markdown(changes: Sequence[Change], before: str, after: str, limit: int = COMMENT_LIMIT) -> str:
    """A table for a CI comment or a cover letter, at most limit characters (regressions first when cut)."""
    return render.markdown(blocks(changes, before, after, limit))


def blocks(changes: Sequence[Change], before: str, after: str, limit: int = COMMENT_LIMIT) -> list[render.Block]:
    """The changes as render blocks (markdown for compare, text in the email): the table, and what it cut."""
    if not changes:
        return [render.Para(f"No differences between {before} and {after}.")]
    ordered = sorted(changes, key=lambda c: c.kind is not Kind.REGRESSION)  # stable: regressions, then the rest
    table = render.Table(("change", "suite", "test", before, after), code=(2,))
    size, rows = sum(len(line) + 1 for line in table.markdown_lines()), []
    for c in ordered:
        row = (c.kind.value, c.suite, c.test, c.before, c.after)
        if size + len(table.markdown_row(row)) + 1 > limit - _CUT_NOTE_ROOM:
            break
        rows.append(row)
        size += len(table.markdown_row(row)) + 1
    shown: list[render.Block] = [render.Table(table.header, tuple(rows), table.code)]
    if len(rows) < len(ordered):
        shown.append(
            render.Para(
                f"{len(ordered) - len(rows)} more changes are not shown here: run `zpfarm compare` on the JUnit."
            )
        )
    return shown
