"""One suite's boots: the first, infrastructure retries, and reruns of the programs that failed.

NIPA's rule, with KernelCI's retries of a machine that failed:
- after the first boot, the programs with a failed or crashed result boot
  again in a fresh guest of the same build, as `--test` would select them
  (farm.guest.selection), up to `retries` times while some still fail;
- a boot the machine failed (the guest never started, qemu killed from
  outside: an INFRA result) is booted again, up to INFRA_RETRIES more times;
  a rerun the machine keeps failing leaves the earlier attempts standing;
- a rerun that could not finish in the suite's time (the first boot's limit:
  boot_timeout plus every program's timeout) is skipped, and the suite says so;
- farm.judge.attempts folds the attempts into one result per test: a kernel
  report on any attempt stays a crash.
Each attempt keeps its console and share: RESULTS/CELL/RUNTIME/attempt-N/.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from farm.guest.selection import Selection
from farm.judge import attempts, expect
from farm.model.errors import UserError
from farm.model.programs import GuestTest
from farm.model.results import Booted, TestResult

INFRA_RETRIES = 2  # more boots of one attempt the machine failed (KernelCI retries boots 3 times in all)

Boot = Callable[[Sequence[GuestTest], Path], Booted]  # boot these programs, with this attempt's directory
Judge = Callable[[Booted, Sequence[GuestTest]], list[TestResult]]


def check(retries: int, known_issues: Path) -> None:
    """--retries, and the known issues a rerun's verdicts read: an expired one stops the run before any build."""
    if retries < 0:
        raise UserError(f"--retries {retries}: give 0 (no reruns) or more")
    if known_issues.is_file():
        expect.load_known(known_issues)


@dataclass
class Attempts:
    """What a suite's boots gave: the first boot, the merged results, and what the suite should say."""

    booted: Booted
    cases: list[TestResult]
    properties: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # for the run's log: skipped or broken reruns


def run(
    boot: Boot,
    judge: Judge,
    tests: Sequence[GuestTest],
    where: Path,
    retries: int,
    boot_timeout: float,
    notice: Callable[[str], None] = lambda note: None,
) -> Attempts:
    """Boot tests at where, then rerun what failed; infra retries only when retries > 0.

    notice hears each skipped or broken rerun (also in Attempts.notes).
    """
    infra_retries = INFRA_RETRIES if retries > 0 else 0
    budget = boot_timeout + sum(t.timeout for t in tests)
    booted, first, spent = _attempt(boot, judge, tests, where, infra_retries)
    done = Attempts(booted, first)
    if spent.retried:
        done.properties["infra_retries"] = str(spent.retried)
    reruns: list[attempts.Rerun] = []
    planned = [t.name for t in tests]
    for number in range(2, retries + 2 if attempts.infra(first) is None else 2):  # a failing machine: no reruns
        failed = attempts.rerun(attempts.merge(first, reruns), planned)
        if not failed:
            break
        again = [t for t in tests if Selection(tuple(failed)).wants(t.name)]
        need = min(booted.elapsed, boot_timeout + sum(t.timeout for t in again))
        if spent.seconds + need > budget:
            done.notes.append(
                f"rerun {number - 1} of {', '.join(failed)} skipped: it would not finish in the suite's time "
                f"({spent.seconds:.0f} s of {budget:.0f} s spent, about {need:.0f} s needed)"
            )
            break
        _, cases, took = _attempt(boot, judge, again, where / f"attempt-{number}", infra_retries)
        spent = Spent(spent.seconds + took.seconds, spent.retried + took.retried)
        if broken := attempts.infra(cases):
            done.notes.append(f"rerun {number - 1}: the machine failed ({broken.message}); earlier attempts stand")
            break
        reruns.append(([t.name for t in again], cases))
    done.cases = attempts.merge(first, reruns)
    if reruns:
        done.properties["attempts"] = str(len(reruns) + 1)
        done.properties["reran"] = "; ".join(", ".join(programs) for programs, _ in reruns)
    if done.notes:
        done.properties["rerun_notes"] = "; ".join(done.notes)
    for note in done.notes:
        notice(note)
    return done


@dataclass(frozen=True)
class Spent:
    seconds: float
    retried: int = 0  # boots the machine failed and were booted again


def _attempt(
    boot: Boot, judge: Judge, tests: Sequence[GuestTest], where: Path, infra_retries: int
) -> tuple[Booted, list[TestResult], Spent]:
    """One attempt's results: booted again while the machine fails it, up to infra_retries more times."""
    seconds = 0.0
    for retry in range(infra_retries + 1):
        booted = boot(tests, where if retry == 0 else where / f"infra-retry-{retry}")
        seconds += booted.elapsed
        cases = judge(booted, tests)
        if attempts.infra(cases) is None:
            break
    return booted, cases, Spent(seconds, retry)
