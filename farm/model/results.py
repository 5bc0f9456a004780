"""Values shared by the farm's stages: statuses, per-test results, suites.

Everything here is an immutable value (but Report, which a run fills in);
stages return these, they never raise for a test that failed or a guest that
crashed (failures are data).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path


class Status(Enum):
    """Verdict of one test case (or stage) after expectations were applied.

    The value is also the JUnit type attribute of a <failure> or <error>.
    """

    PASS = "pass"
    FAIL = "fail"  # an assertion failed, or a known failure unexpectedly passed
    XFAIL = "xfail"  # failed where expectations.toml says it is known to fail
    SKIP = "skip"  # could not run here (no THP, no io_uring, ...)
    BUILD = "build"  # the kernel does not compile: the tree's fault, a bisect skip
    CRASH = "crash"  # test or kernel crashed, timed out, or left no result
    INFRA = "infra"  # the machine failed (a tool, a guest that would not start): the test never ran
    INPUT = "input"  # bad input (a patch that does not apply, a bad option): the test never ran

    @property
    def is_error(self) -> bool:
        """JUnit <error>: something broke rather than an assertion failing."""
        return self in (Status.CRASH, Status.INFRA, Status.INPUT)

    @property
    def is_failure(self) -> bool:
        """JUnit <failure>: the code under test is wrong."""
        return self in (Status.FAIL, Status.BUILD)


@dataclass(frozen=True)
class Attempt:
    """One other run of a test in a rerun (JUnit <flakyFailure>, <rerunFailure>...): how it ended there."""

    status: Status
    message: str = ""
    output: str = ""


@dataclass(frozen=True)
class TestResult:
    """One JUnit <testcase>: a test program's subtest in one mode."""

    __test__ = False  # not a pytest class, despite the name

    name: str  # "<program>.<subtest>", e.g. "coherence.read_then_remote_write[memfd,shared]"
    status: Status
    message: str = ""  # one line: why it failed, was skipped or xfailed
    output: str = ""  # diagnostics the test printed, console excerpts
    metrics: Mapping[str, float] = field(default_factory=dict)
    elapsed: float | None = None
    # The test's other attempts, in order (reruns, farm.judge.attempts): for a PASS, the attempts
    # that failed (it is flaky); for a failure or crash, the reruns after the one reported here.
    attempts: tuple[Attempt, ...] = ()
    intermittent: bool = False  # matched an intermittent known issue (expectations.toml)

    @property
    def flaky(self) -> bool:
        """Passed on one attempt, failed or crashed on another."""
        return self.status is Status.PASS and any(a.status.is_failure or a.status.is_error for a in self.attempts)

    @property
    def program(self) -> str:
        """The test program that produced this result: the name up to the first dot."""
        return self.name.split(".", 1)[0]


@dataclass(frozen=True)
class Suite:
    """One <testsuite>: the results of one runtime in one matrix cell."""

    name: str  # "<cell>/<runtime>", e.g. "series-x86_64-thp-on/shmem-always"
    cases: tuple[TestResult, ...]
    properties: Mapping[str, str]  # arch, kconfig, runtime, kernel, kernel_release, ...
    system_out: str  # console log path or excerpt
    timestamp: datetime  # timezone-aware UTC
    elapsed: float

    def count(self, status: Status) -> int:
        return sum(1 for c in self.cases if c.status is status)


@dataclass
class Report:
    """What a run produced, suite by suite; the CLI turns it into a table and an exit code."""

    suites: list[Suite] = field(default_factory=list)
    junit: Path | None = None  # where the JUnit was last written
    junit_problem: str = ""  # why it is not where it was asked to be (a full disk): then exit 3

    def count(self, status: Status) -> int:
        return sum(s.count(status) for s in self.suites)

    def flaky(self) -> list[str]:
        """'suite: case' for every case that passed on a rerun after failing."""
        return [f"{s.name}: {c.name}" for s in self.suites for c in s.cases if c.flaky]

    def problems(self, status: Status) -> list[str]:
        """'suite: case: message' for every case with this status."""
        return [f"{s.name}: {c.name}: {c.message}" for s in self.suites for c in s.cases if c.status is status]


@dataclass(frozen=True)
class Booted:
    """What one boot of a guest left: how it ended and what the runner wrote."""

    returncode: int
    elapsed: float
    timed_out: bool
    finished: bool  # the runner got to its end
    ktap: str  # results.ktap as far as the guest wrote it
    console: Path
    accel: str = ""  # kvm, tcg or icount: what the boot really used
    properties: tuple[tuple[str, str], ...] = ()  # for the suite: a coverage cell's numbers
