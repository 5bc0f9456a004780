"""What the last A/A in the history moved a metric by: the noise band compare judges the metric against.

An A/A is one kernel measured again: runs of one suite that booted the same kernel
(the same build key; in a file without one, the same commit and series) under the same
accel. For a metric "PAIR: TEST: NAME" (PAIR the suite without its kernel, as
`compare --kernels` names it; or a whole suite name, run against run), the last A/A is
the kernel of the pair's suites (base and series) measured at least twice most
recently. Its latest runs (at most AA_RUNS) are split in halves, older and newer, and
the band is how far the newer half's median moved from the older's, |newer/older - 1|:
with two runs, one value against the other. Every `zpfarm run` of an unchanged
kernel is thus an A/A; none is needed on purpose.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from farm.model.matrix import KERNELS
from farm.model.suite_id import SuiteId
from farm.report.history.earlier import literal
from farm.report.history.store import History
from farm.report.history.values import MetricSample

AA_RUNS = 10  # the latest runs of the kernel measured last that make its A/A
LOOK_BACK = 200  # samples per suite the search reads, newest first


@dataclass(frozen=True)
class Band:
    """What one A/A moved a metric by (a fraction), and where it was measured."""

    value: float
    suite: str
    runs: tuple[int, ...]  # the history's run numbers, oldest first

    def __str__(self) -> str:
        """'±6.0% (A/A in history: series-x86_64-shmem/default, runs 3, 4)'."""
        runs = ", ".join(map(str, self.runs)) if len(self.runs) <= 4 else f"{self.runs[0]}-{self.runs[-1]}"
        return f"±{self.value:.1%} (A/A in history: {self.suite}, runs {runs})"


def last_aa(history: History, metric: str, runs: int = AA_RUNS) -> Band | None:
    """The band the last A/A of metric measured; None when the history holds none (or the label is not one)."""
    parts = _parts(metric)
    if parts is None:
        return None
    suites, test, name = parts
    by_kernel: dict[tuple[str, str, str], list[MetricSample]] = {}
    for suite in suites:
        for sample in history.metric(test, name, literal(suite), LOOK_BACK):
            if sample.kernel:
                by_kernel.setdefault((sample.suite, sample.kernel, sample.accel), []).append(sample)
    twice = [found for found in by_kernel.values() if len(found) >= 2]
    if not twice:
        return None
    latest = max(twice, key=lambda found: (found[-1].started, found[-1].run))[-max(runs, 2) :]
    half = len(latest) // 2
    older = statistics.median(s.value for s in latest[:half])
    newer = statistics.median(s.value for s in latest[half:])
    if older == 0:
        return None
    return Band(abs(newer - older) / abs(older), latest[0].suite, tuple(s.run for s in latest))


def _parts(metric: str) -> tuple[Sequence[str], str, str] | None:
    """The suites a metric label names (both kernels' for a pair), its test and its name."""
    suite, sep, rest = metric.partition(": ")
    test, sep2, name = rest.rpartition(": ")
    if not (sep and sep2 and suite and test and name):
        return None
    if SuiteId.parse(suite).kernel is not None:
        return (suite,), test, name
    return tuple(f"{kernel}-{suite}" for kernel in KERNELS), test, name


@dataclass
class Bands:
    """The history's A/A bands, per metric, as compare's statistics ask them (stats.Settings(band=bands.band)).

    The file is opened per question: History.open checks it first (UserError: missing or not a history).
    """

    path: Path
    found: dict[str, Band | None] = field(default_factory=dict)

    @classmethod
    def at(cls, path: Path) -> Bands:
        History.open(path, create=False).close()
        return cls(path)

    def of(self, metric: str) -> Band | None:
        if metric not in self.found:
            with History.open(self.path, create=False) as history:
                self.found[metric] = last_aa(history, metric)
        return self.found[metric]

    def band(self, metric: str) -> float | None:
        found = self.of(metric)
        return None if found is None else found.value
