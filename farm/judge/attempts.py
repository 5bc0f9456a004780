"""Reruns of a suite's failed programs, as data: which programs to run again, and one result per test.

Pure. A suite's first boot gives every result; rerun() names the programs to
boot again (those with a failed or crashed result the program itself gave),
and merge() folds each rerun's results into one TestResult per test, the
other attempts kept in TestResult.attempts:

- passed on one attempt and failed on another: a PASS whose attempts hold the
  failures (flaky: JUnit <flakyFailure>, NIPA's "fail then pass, no crash");
- failed on every attempt: the first failure, the reruns as its attempts
  (JUnit <failure> plus <rerunFailure>);
- a kernel report (WARN, BUG, KASAN, lockdep... a "<program>.console" case)
  on any attempt stays a crash whatever the other attempts say: a clean rerun
  does not hide it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from farm.model.results import Attempt, Status, TestResult

KERNEL_REPORT_SUFFIX = ".console"  # verdict.judge names a kernel report "<program>.console"
_GOOD = (Status.PASS, Status.XFAIL)


def is_kernel_report(case: TestResult) -> bool:
    return case.status is Status.CRASH and case.name.endswith(KERNEL_REPORT_SUFFIX)


def bad(case: TestResult) -> bool:
    """A result a rerun may change: the test failed or crashed (not the machine, not bad input)."""
    return case.status in (Status.FAIL, Status.CRASH)


def rerun(cases: Sequence[TestResult], planned: Sequence[str]) -> list[str]:
    """The planned programs, in plan order, with a failed or crashed result."""
    failed = {c.program for c in cases if bad(c)}
    return [p for p in planned if p in failed]


def infra(cases: Sequence[TestResult]) -> TestResult | None:
    """The result saying the machine failed this boot (the guest never started, qemu was killed)."""
    return next((c for c in cases if c.status is Status.INFRA), None)


Rerun = tuple[Sequence[str], Sequence[TestResult]]  # the programs a rerun booted, and its results


def merge(first: Sequence[TestResult], reruns: Sequence[Rerun]) -> list[TestResult]:
    """One result per test over the first boot and each (programs rerun, their results) after it.

    From a rerun, only the results of the programs it reran count, and every
    kernel report it saw (whichever program was running).
    """
    attempts: dict[str, list[TestResult]] = {c.name: [c] for c in first}
    for number, (programs, cases) in enumerate(reruns, start=2):
        seen = set()
        for c in cases:
            if c.program in programs or is_kernel_report(c):
                attempts.setdefault(c.name, []).append(c)
                seen.add(c.name)
        clean = _clean(programs, cases)
        for name, results in attempts.items():
            # A result only a failed attempt had ("memory.#2": no result line, "memory.ktap"): the
            # program's clean rerun is its pass.
            if name not in seen and results[0].program in clean and not is_kernel_report(results[0]):
                why = f"passed on attempt {number}: {results[0].program} gave every result"
                results.append(TestResult(name, Status.PASS, why))
    return [_one(results) for results in attempts.values()]


def _clean(programs: Sequence[str], cases: Sequence[TestResult]) -> set[str]:
    """The programs rerun with results, none of them failed, and no kernel report while they ran."""
    ran = {c.program for c in cases if c.program in programs}
    return ran - {c.program for c in cases if bad(c)}


def _one(results: list[TestResult]) -> TestResult:
    if len(results) == 1:
        return results[0]
    reports = [i for i, r in enumerate(results) if is_kernel_report(r)]
    good = [i for i, r in enumerate(results) if r.status in _GOOD]
    failed = [i for i, r in enumerate(results) if bad(r)]
    if reports:
        shown = reports[0]
    elif good and failed:
        shown = good[-1]  # flaky: the pass, with the failures as its attempts
    elif failed:
        shown = failed[0]  # failed every time it ran: the first failure, the reruns as attempts
    else:
        shown = len(results) - 1
    others = tuple(_attempt(r) for i, r in enumerate(results) if i != shown)
    return dataclasses.replace(results[shown], attempts=others)


def _attempt(r: TestResult) -> Attempt:
    return Attempt(r.status, r.message, r.output)
