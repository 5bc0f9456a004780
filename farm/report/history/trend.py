"""What a sequence of outcomes says (pure): passing, failing, a regression or a fix since a run, or flaky.

Over the window (the last M counted outcomes, oldest first):
  all passed                         passing
  all failed                         a regression since the run the failing streak began, if the
                                     test ever passed before it in the history; else failing (never passed)
  passes, then failures (one flip)   a regression since the first failure
  failures, then passes (one flip)   fixed since the first pass
  two or more flips                  flaky when one kernel (commit) both passed and failed; else it
                                     varies with the kernel (v2 fails, v3 passes, v4 fails: not a flake)
  a pass that needed a rerun         flaky
The fail rate is over the window; a pass on a rerun counts as a failed run.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from farm.report.history.values import Rate, RunOutcome, Summary, Trend

DEFAULT_LAST = 30  # runs in a window: the strip the HTML report shows


def summarize(test: str, suite: str, outcomes: Sequence[RunOutcome], last: int = DEFAULT_LAST) -> Summary:
    """The summary of one test in one suite from all its outcomes, oldest first."""
    full = [o for o in outcomes if o.counted]
    window = full[-last:] if last > 0 else full
    rate = Rate.of(sum(o.failed for o in window), len(window))
    streak = _streak(full)
    trend, since = _trend(full, window, streak)
    return Summary(test, suite, tuple(outcomes), trend, streak, since, rate)


def _streak(full: Sequence[RunOutcome]) -> int:
    n = 0
    for o in reversed(full):
        if o.failed != full[-1].failed:
            break
        n += 1
    return n


def flips(window: Sequence[RunOutcome]) -> int:
    """How often the outcome changed between pass and fail, oldest to newest."""
    return sum(1 for a, b in itertools.pairwise(window) if a.failed != b.failed)


def _trend(full: Sequence[RunOutcome], window: Sequence[RunOutcome], streak: int) -> tuple[Trend, RunOutcome | None]:
    if not window:
        return Trend.NONE, None
    if any(o.letter == "f" for o in window):
        return Trend.FLAKY, None
    changed = flips(window)
    first_of_streak = full[len(full) - streak]
    if changed == 0 and not window[-1].failed:
        return Trend.PASSING, None
    if changed == 0:
        passed_before = streak < len(full)
        return (Trend.REGRESSION if passed_before else Trend.FAILING), first_of_streak
    if changed == 1:
        return (Trend.REGRESSION if window[-1].failed else Trend.FIXED), first_of_streak
    if _one_kernel_disagrees(window):
        return Trend.FLAKY, None
    return Trend.VARIES, [o for o in window if o.failed][-1]


def _one_kernel_disagrees(window: Sequence[RunOutcome]) -> bool:
    """Whether some kernel (by commit; unknown commits count as one) both passed and failed."""
    seen: dict[str, bool] = {}
    return any(seen.setdefault(o.commit, o.failed) != o.failed for o in window)
