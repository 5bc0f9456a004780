"""Verdicts that tell a regression from a flake: one result against its attempts and its history.

Pure. The rules, as NIPA, SQUAD and KernelCI decide:
- regression: failed in every attempt, and the history has a pass for the same
  (test, cell, base line): pass -> fail, the only transition that is one;
- new failure: failed in every attempt, and no earlier pass (KernelCI does not
  call a first-ever failure a regression);
- failed: failed in every attempt, and no history to tell which of the two;
- flaky: passed on a rerun, or its history's fail rate lies strictly between
  0 and 1 (a pass now that failed before, or the reverse);
- fix: failed before, passes now, and no intermittent known issue covers it
  (SQUAD never counts an intermittent pass as a fix).
A kernel report on any attempt is a crash, a failure in every attempt (judge.attempts).
Counting runs or attempts against a threshold (bisect's --runs/--threshold, "failed
in every attempt") is Tally.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from farm.model.results import Status, Suite, TestResult

BAD = frozenset({Status.FAIL, Status.CRASH})  # the test or the kernel under test failed
UNTESTABLE = frozenset({Status.BUILD, Status.INPUT, Status.INFRA})  # says nothing about the test


class Verdict(Enum):
    PASS = "pass"
    FLAKY = "flaky"
    REGRESSION = "regression"
    NEW_FAILURE = "new failure"
    FAILED = "failed"  # failed every attempt; no history to tell a regression from a new failure
    FIX = "fix"
    KNOWN = "known"  # an xfail: expectations.toml knows it fails here
    SKIP = "skip"
    UNTESTABLE = "untestable"  # the kernel did not build, bad input, the machine failed

    @property
    def fails_run(self) -> bool:
        """Whether the run is red for it (flaky: only with --fail-on-flaky)."""
        return self in (Verdict.REGRESSION, Verdict.NEW_FAILURE, Verdict.FAILED)


class History(Protocol):
    """What the verdicts ask of the run history (the SQLite store answers it)."""

    def passed_before(self, test: str, cell: str, base_line: str) -> bool:
        """Whether an earlier run of test on cell, on this base line, passed."""
        ...

    def fail_rate(self, test: str, cell: str, base_line: str) -> tuple[int, int]:
        """(runs it failed, runs) over the recent runs of test on cell and base line."""
        ...


@dataclass(frozen=True)
class Tally:
    """Outcomes counted: bad (failed or crashed), good, and untestable (build, input, machine)."""

    bad: int = 0
    good: int = 0
    untestable: int = 0

    @property
    def tested(self) -> int:
        return self.bad + self.good

    def failed(self, threshold: int | None = None) -> bool:
        """Bad at least threshold times; without one: bad every time it was tested."""
        needed = self.tested if threshold is None else threshold
        return self.bad > 0 and self.bad >= needed

    def __str__(self) -> str:
        return f"{self.bad}/{self.tested} bad"


def tally(outcomes: Iterable[bool | None]) -> Tally:
    """Count outcomes: True bad, False good, None untestable."""
    seen = list(outcomes)
    return Tally(seen.count(True), seen.count(False), seen.count(None))


def bad(status: Status) -> bool | None:
    """A status as an outcome for tally(): bad, good, or None when it says nothing about the test."""
    return None if status in UNTESTABLE else status in BAD


def attempts(result: TestResult) -> Tally:
    """The result's attempts, counted (its own status and each other attempt's)."""
    return tally(bad(s) for s in (result.status, *(a.status for a in result.attempts)))


def of_result(result: TestResult, cell: str, base_line: str, history: History | None = None) -> Verdict:
    """One result of a run: what it means, given its attempts and, when there is one, its history."""
    if result.status in UNTESTABLE:
        return Verdict.UNTESTABLE
    if result.status is Status.XFAIL:
        return Verdict.KNOWN
    if result.status is Status.SKIP:
        return Verdict.SKIP
    if result.status not in BAD:  # judge.attempts shows a pass only when no attempt had a kernel report
        if result.flaky:
            return Verdict.FLAKY
        if history is not None and 0 < _rate(history, result.name, cell, base_line) < 1:
            return Verdict.FLAKY
        return Verdict.PASS
    if history is None:
        return Verdict.FAILED
    return Verdict.REGRESSION if history.passed_before(result.name, cell, base_line) else Verdict.NEW_FAILURE


def _rate(history: History, test: str, cell: str, base_line: str) -> float:
    failed, runs = history.fail_rate(test, cell, base_line)
    return failed / runs if runs else 0.0


def change(before: Status, before_intermittent: bool, after: Status, after_flaky: bool) -> Verdict | None:
    """Two results of one test (base vs series, run A vs run B): a regression, a fix, a flake, or None.

    A pass of a test an intermittent known issue covered before is no fix.
    """
    if after_flaky:
        return Verdict.FLAKY
    good = {Status.PASS, Status.XFAIL, Status.SKIP}
    if before in good and after not in good:
        return Verdict.REGRESSION
    if before not in {Status.PASS, Status.SKIP} and after is Status.PASS and not before_intermittent:
        return Verdict.FIX
    return None


@dataclass(frozen=True)
class Judged:
    """One result of a run with its verdict."""

    suite: str
    result: TestResult
    verdict: Verdict


def of_suites(suites: Sequence[Suite], history: History | None = None) -> list[Judged]:
    """Every result of a run that is flaky or makes it red, with its verdict (suites: "<cell>/<runtime>").

    History is asked per cell and base line: the stable line a floating base was resolved from
    (v7.3), else the base the suite names (v7.3.4, or a tree's ref).
    """
    found = []
    for suite in suites:
        cell, props = suite.name.split("/", 1)[0], suite.properties
        base_line = props.get("base_line") or props.get("base", "")  # a pinned base is a line of its own
        for result in suite.cases:
            verdict = of_result(result, cell, base_line, history)
            if verdict is Verdict.FLAKY or verdict.fails_run:
                found.append(Judged(suite.name, result, verdict))
    return found
