"""Compare several runs on each side: tests by their status, metrics by statistics.

Each JUnit file is one run. `zpfarm compare A1 A2 --vs B1 B2` pools A's runs
against B's; `zpfarm compare R1 R2 R3 --kernels` pools each run's base
against its series. A test counts as failing on a side only when it failed
in every run of that side (a test that fails now and then is for history and
reruns to judge, not a regression). A metric with at least 2 samples on each
side goes to farm.report.stats; one measured under --accel icount on every
run is compared exactly; with one run a side, a number that moved by more
than 10% is shown as before (a "metric" change, never a regression).
"""

from __future__ import annotations

import glob
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from farm.model.errors import UserError
from farm.model.suite_id import SuiteId
from farm.report import compare, junit, stats
from farm.report.compare import GOOD, Case, Comparison

ICOUNT = "icount"


@dataclass(frozen=True)
class Run:
    path: Path
    cases: tuple[Case, ...]
    icount: frozenset[str]  # suites measured under --accel icount


def expand(patterns: Iterable[str]) -> list[Path]:
    """Paths, with glob patterns (quoted so the shell left them) expanded in sorted order."""
    found: list[Path] = []
    for pattern in patterns:
        if Path(pattern).exists() or not glob.has_magic(pattern):
            found.append(Path(pattern))
            continue
        matched = sorted(glob.glob(pattern))
        if not matched:
            raise UserError(f"{pattern}: no JUnit file matches")
        found.extend(Path(m) for m in matched)
    return found


def compared(runs_: Sequence[str], vs: Sequence[str], kernels_: bool, settings: stats.Settings) -> Comparison:
    """What `zpfarm compare` compares: JUNIT... --vs JUNIT..., JUNIT... --kernels, JUNIT, or JUNIT JUNIT2."""
    before = expand(runs_)
    if vs:
        if kernels_:
            raise UserError("--kernels compares each run's base with its series: give no --vs with it")
        return runs(before, expand(vs), settings)
    if kernels_ or len(before) == 1:
        return kernels(before, settings)
    if len(before) == 2:
        return runs(before[:1], before[1:], settings)
    raise UserError(
        f"{len(before)} JUnit files: say which runs are the other side (--vs JUNIT...), "
        "or compare each run's base with its series (--kernels)"
    )


def read(path: Path) -> Run:
    suites = junit.read(path)
    icount = frozenset(s.name for s in suites if s.property("accel") == ICOUNT)
    return Run(path, tuple(compare.cases(suites)), icount)


def runs(before: Sequence[Path], after: Sequence[Path], settings: stats.Settings | None = None) -> Comparison:
    """Run against run (one file a side: compare.files) or many against many, pooled."""
    if len(before) == 1 and len(after) == 1:
        found = compare.files(before[0], after[0])
        return _with_metrics(found, [read(before[0])], [read(after[0])], settings)
    old, new = [read(p) for p in before], [read(p) for p in after]
    if not {c.suite for r in old for c in r.cases} & {c.suite for r in new for c in r.cases}:
        raise UserError(f"{_names(before)} and {_names(after)} have no suite in common: nothing to compare")
    changes = compare.diff(_statuses(old), _statuses(new))
    found = Comparison(_drop_metric_moves(changes), _names(before), _names(after))
    return _with_metrics(found, old, new, settings)


def kernels(paths: Sequence[Path], settings: stats.Settings | None = None) -> Comparison:
    """Base against series, each run's, pooled over the runs."""
    if len(paths) == 1:
        found = compare.files(paths[0], None)
        return _with_metrics(found, *split([read(paths[0])]), settings)
    base, series = split([read(p) for p in paths])
    if not any(r.cases for r in base) or not any(r.cases for r in series):
        missing = "base" if not any(r.cases for r in base) else "series"
        raise UserError(f"{_names(paths)}: no {missing} suites to compare")
    changes = compare.diff(_statuses(base), _statuses(series))
    return _with_metrics(Comparison(_drop_metric_moves(changes), "base", "series"), base, series, settings)


def split(found: Sequence[Run]) -> tuple[list[Run], list[Run]]:
    base, series = [], []
    for r in found:
        old, new = compare.split_kernels(r.cases)
        icount = frozenset(SuiteId.parse(s).pair_key for s in r.icount)
        base.append(Run(r.path, tuple(old), icount))
        series.append(Run(r.path, tuple(new), icount))
    return base, series


def _names(paths: Sequence[Path]) -> str:
    return paths[0].name if len(paths) == 1 else f"{paths[0].name} +{len(paths) - 1}"


def _statuses(side: Sequence[Run]) -> list[Case]:
    """One case per (suite, test): failing only when it failed in every run that has it."""
    seen: dict[tuple[str, str], list[Case]] = defaultdict(list)
    for r in side:
        for c in r.cases:
            seen[c.suite, c.name].append(c)
    out = []
    for group in seen.values():
        good = [c for c in group if c.status in GOOD]
        out.append(good[0] if good else group[0])
    return out


def _drop_metric_moves(changes: Sequence[compare.Change]) -> list[compare.Change]:
    """Several runs a side: metrics are the statistics' to judge, not one value's 10%."""
    return [c for c in changes if c.kind is not compare.Kind.METRIC]


Key = tuple[str, str, str]  # suite, test, metric


def samples(side: Sequence[Run]) -> dict[Key, list[float]]:
    """Every value of every metric, one per run that measured it."""
    found: dict[Key, list[float]] = defaultdict(list)
    for r in side:
        for c in r.cases:
            for name, value in c.metrics.items():
                found[c.suite, c.name, name].append(value)
    return found


def label(key: Key) -> str:
    return f"{key[0]}: {key[1]}: {key[2]}"


def _with_metrics(
    found: Comparison, old: Sequence[Run], new: Sequence[Run], settings: stats.Settings | None
) -> Comparison:
    a, b = samples(old), samples(new)
    shared = {label(k): k for k in a.keys() & b.keys()}
    exact = frozenset(name for name, k in shared.items() if _icount(k[0], old) and _icount(k[0], new))
    judged = stats.compare({name: (a[k], b[k]) for name, k in shared.items()}, settings, exact)
    if not judged:
        return found
    done = {shared[s.metric][:2] for s in judged}
    kept = [c for c in found.changes if c.kind is not compare.Kind.METRIC or (c.suite, c.test) not in done]
    return Comparison(kept, found.before, found.after, found.notes, tuple(judged))


def _icount(suite: str, side: Sequence[Run]) -> bool:
    """Every run of the side that has the suite measured it under --accel icount."""
    return all(suite in r.icount for r in side if any(c.suite == suite for c in r.cases))


def regressed(found: Comparison) -> bool:
    """A test regressed, or a metric did by the statistics."""
    return any(c.kind is compare.Kind.REGRESSION for c in found.changes) or any(
        s.verdict is stats.Verdict.REGRESSION for s in found.metrics
    )


def report(found: Comparison, bands: Mapping[str, str] | None = None) -> str:
    """The whole comparison as markdown: notes, the tests' table, the metrics' table (bands: see markdown)."""
    notes = "".join(f"**{note}**\n\n" for note in found.notes)
    if found.changes or not found.metrics:
        tests = compare.markdown(found.changes, found.before, found.after)
    else:
        tests = f"No test changed between {found.before} and {found.after}.\n"
    return notes + tests + (f"\n{markdown(found.metrics, bands=bands)}" if found.metrics else "")


_ORDER = (stats.Verdict.REGRESSION, stats.Verdict.IMPROVEMENT, stats.Verdict.INCONCLUSIVE, stats.Verdict.NO_CHANGE)
METRICS_LIMIT = 32768  # characters of the metrics table in a CI comment (the tests' table has its own)


def markdown(judged: Sequence[stats.Stat], limit: int = METRICS_LIMIT, bands: Mapping[str, str] | None = None) -> str:
    """The metrics table: per side n, median and MAD%; the ratio with its 95% interval; p, q, verdict.

    Regressions first, then improvements, inconclusive and no change; cut at limit characters.
    bands: the noise band a metric was judged against when it was not the default (the history's).
    """
    if not judged:
        return ""
    lines = [
        "| metric | n | median before | median after | MAD% | ratio [95% CI] | p | q | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    size = sum(len(line) + 1 for line in lines)
    ordered = sorted(judged, key=lambda s: _ORDER.index(s.verdict))
    for shown, s in enumerate(ordered):
        ci = "exact" if s.exact else f"[{s.low:.3f}, {s.high:.3f}]"
        row = (
            f"| `{s.metric}` | {s.before.n}/{s.after.n} | {s.before.median:g} | {s.after.median:g} | "
            f"{s.before.mad_pct:.1f}/{s.after.mad_pct:.1f} | {s.ratio:.3f} {ci} | {s.p:.3g} | {s.q:.3g} | {s.text}"
            f"{f' (band {bands[s.metric]})' if bands and s.metric in bands else ''} |"
        )
        if size + len(row) + 1 > limit:
            rest = Counter(x.verdict.value for x in ordered[shown:])
            lines.append(f"\n{len(ordered) - shown} more metrics not shown ({_counts(rest)}): run `zpfarm compare`.")
            break
        lines.append(row)
        size += len(row) + 1
    return "\n".join(lines) + "\n"


def _counts(found: Counter[str]) -> str:
    return ", ".join(f"{n} {verdict}" for verdict, n in sorted(found.items()))
