"""The history's values: what one test did in one run, a fail rate with its interval, a flaky test.

Wilson's score interval is computed here by hand (the standard library's
math, no scipy): for k failures in n runs at z = 1.96 (95%),
    centre = (p + z²/2n) / (1 + z²/n),  half = z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n).
Unlike p ± z·sqrt(p(1-p)/n) it stays inside [0, 1] and is honest for small n
and for rates near 0 or 1 (0/10 still allows up to 27.8%).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from farm.model.results import Status

Z95 = 1.959963984540054  # the normal quantile of 0.975: a two-sided 95% interval
# What a run of a test counts as. Not counted: it did not run (skipped, machine failure, bad input).
FAILED = frozenset({Status.FAIL, Status.XFAIL, Status.CRASH, Status.BUILD})
PASSED = frozenset({Status.PASS})


def wilson(failed: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for failed/n (0.0-1.0 both); (0.0, 1.0) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= failed <= n:
        raise ValueError(f"{failed} failures in {n} runs")
    p = failed / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    scale = 1 + z2 / n
    return max(0.0, (centre - half) / scale), min(1.0, (centre + half) / scale)


@dataclass(frozen=True)
class Rate:
    """failed of n counted runs, with Wilson's 95% interval of the failure rate."""

    failed: int
    n: int
    wilson_low: float
    wilson_high: float

    @classmethod
    def of(cls, failed: int, n: int) -> Rate:
        return cls(failed, n, *wilson(failed, n))

    @property
    def rate(self) -> float:
        return self.failed / self.n if self.n else 0.0

    def __str__(self) -> str:
        """'3/10 (Wilson 95% 10.8%-60.3%)'."""
        return f"{self.failed}/{self.n} (Wilson 95% {self.wilson_low:.1%}-{self.wilson_high:.1%})"


@dataclass(frozen=True)
class RunOutcome:
    """One test in one suite of one recorded run.

    run is the run's number in the history file (1, 2, ...: the order runs were
    recorded); series names the series (its cover letter's subject or directory
    when the JUnit says, else the first 12 digits of its patchset hash; "" for a
    base kernel). failed_attempts counts the attempts that failed before the
    final status (reruns: a PASS with failed_attempts > 0 passed on a rerun).
    """

    run: int
    started: str  # ISO 8601, UTC: when the suite started
    suite: str  # CELL/RUNTIME
    cell: str
    runtime: str
    base: str  # the point release (v7.3.4), or the ref of a tree
    base_line: str  # the stable line it was resolved from (v7.3), or ""
    commit: str
    series: str
    series_hash: str
    status: Status
    failed_attempts: int = 0
    series_id: str = ""  # sha256 over the series' patch-ids: one across versions that changed only messages

    @property
    def counted(self) -> bool:
        """Whether this outcome says anything about the test: it passed or it failed."""
        return self.status in PASSED or self.status in FAILED

    @property
    def failed(self) -> bool:
        """Failed, or passed only on a rerun: a run in which the test did not simply pass."""
        return self.status in FAILED or (self.status in PASSED and self.failed_attempts > 0)

    @property
    def letter(self) -> str:
        """P pass, F failed, f passed on a rerun, S not counted (skipped, infrastructure, input)."""
        if not self.counted:
            return "S"
        if self.status in FAILED:
            return "F"
        return "f" if self.failed_attempts else "P"


class Trend(Enum):
    """What a test's recent runs in one suite say."""

    NONE = "no result"  # nothing counted in the window
    PASSING = "passing"
    FAILING = "failing"  # failed in every counted run of the window
    REGRESSION = "regression"  # passed, then failed in every run since one run
    FIXED = "fixed"  # failed, then passed in every run since one run
    FLAKY = "flaky"  # passes and failures interleaved on one kernel, or a pass on a rerun
    VARIES = "varies with the kernel"  # interleaved, but each kernel (commit) always gave the same answer


@dataclass(frozen=True)
class Summary:
    """A test's history in one suite: its outcomes (oldest first), trend, streak and fail rate."""

    test: str
    suite: str
    outcomes: tuple[RunOutcome, ...]
    trend: Trend
    streak: int  # how many of the latest counted runs share the latest's pass/fail
    since: RunOutcome | None  # a regression's or fix's first run; a failing streak's first; VARIES: the last failure
    rate: Rate

    def __str__(self) -> str:
        return describe(self)


def describe(s: Summary) -> str:
    """One line: 'flaky, 3/10 (Wilson 95% 10.8%-60.3%)', 'regression since run 4 (series v3 fa6249c01a34)'."""
    if s.trend is Trend.NONE:
        return "no result in history"
    if s.trend is Trend.FLAKY:
        return f"flaky, {s.rate}"
    if s.trend is Trend.VARIES:
        window = [o for o in s.outcomes if o.counted][-s.rate.n :]
        kernels = {o.commit: o.failed for o in window}
        last = f", last in run {s.since.run} ({run_label(s.since)})" if s.since else ""
        return f"{s.trend.value}: failed on {sum(kernels.values())} of {len(kernels)} kernels{last}"
    if s.trend is Trend.PASSING:
        return f"passing, {s.rate.n - s.rate.failed}/{s.rate.n} runs"
    run = f"run {s.since.run} ({run_label(s.since)})" if s.since else "an earlier run"
    if s.trend is Trend.FAILING:
        return f"failing, never passed here: {s.rate.n}/{s.rate.n} runs failed since {run}"
    return f"{s.trend.value} since {run}"


def run_label(o: RunOutcome) -> str:
    """'series v3 (fa6249c01a34), v7.3.4, 2026-12-07': what a run tested."""
    series = f"series {o.series}" if o.series else "base kernel"
    if o.series and o.series_hash and not o.series.startswith(o.series_hash[:12]):
        series += f" ({o.series_hash[:12]})"
    date = o.started[:10]
    return ", ".join(x for x in (series, o.base, date) if x)


@dataclass(frozen=True)
class FlakyTest:
    """A test whose outcomes in one suite interleave passes and failures over the window."""

    test: str
    suite: str
    rate: Rate
    flips: int  # pass <-> fail changes, oldest to newest
    last_failure: int  # the run number of its latest failure


@dataclass(frozen=True)
class MetricSample:
    """One number a test printed (`# metric: NAME=VALUE`) in one suite of one run."""

    run: int
    started: str
    suite: str
    commit: str  # the kernel measured
    accel: str  # kvm, tcg or icount: icount numbers are instruction counts, the others times
    value: float
    kernel: str | None = None  # the kernel measured: its build key, else commit and series hash; None: unknown
