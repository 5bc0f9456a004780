"""What the run's JUnit says of the suite to reproduce: its properties and its cases' statuses.

The JUnit file is another job's output, so it is read as untrusted: the suite and test the user
names become paths (results/CELL/RUNTIME), and are checked to be plain names first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from farm.model.errors import UserError
from farm.model.results import Status
from farm.model.suite_id import SuiteId
from farm.report import junit

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")  # a cell, runtime or program: it names files
# What each outcome exits with, most important first (as cli.py decides for every command).
_EXIT_BY_STATUS = ((Status.INPUT, 2), (Status.INFRA, 3), (Status.FAIL, 1), (Status.CRASH, 1), (Status.BUILD, 1))
_SUITE_CASES = ("build", "boot", "rootfs", "setup", "interrupted")  # cases of the whole boot, not of one program


@dataclass(frozen=True)
class Target:
    """What to reproduce: CELL/RUNTIME, and optionally one test (a program, or a case of it)."""

    cell: str
    runtime: str
    test: str | None = None

    @property
    def suite(self) -> str:
        return SuiteId(self.cell, self.runtime).name

    @staticmethod
    def parse(text: str) -> Target:
        cell, _, rest = text.partition("/")
        runtime, _, test = rest.partition("/")
        for what, name in (("cell", cell), ("runtime", runtime)):
            if not NAME.fullmatch(name) or ".." in name:
                raise UserError(f"{text!r}: {what} {name!r} is not a name (expected CELL/RUNTIME[/TEST])")
        if test and not NAME.fullmatch(test.split(".", 1)[0]):
            raise UserError(f"{text!r}: test {test!r} is not a test name (a program, or PROGRAM.CASE)")
        return Target(cell, runtime, test or None)


@dataclass(frozen=True)
class Recorded:
    """The suite as the run's JUnit has it."""

    properties: Mapping[str, str]
    cases: tuple[tuple[str, Status], ...]


def read_suite(path: Path, suite: str) -> Recorded:
    """The properties and case statuses of one <testsuite> of a zpfarm JUnit file (UserError otherwise)."""
    suites = junit.read(path)
    found = [s for s in suites if s.name == suite]
    if len(found) != 1:
        names = ", ".join(s.name for s in suites[:20])
        what = f"no suite {suite!r}" if not found else f"{len(found)} suites named {suite!r} (merge them first)"
        raise UserError(f"--junit {path}: {what} (suites: {names or 'none'})")
    return Recorded(dict(found[0].properties), tuple((c.name, c.status) for c in found[0].cases))


def exit_code(statuses: Sequence[Status]) -> int:
    for status, code in _EXIT_BY_STATUS:
        if status in statuses:
            return code
    return 0


def program_of(target: Target, recorded: Recorded) -> str | None:
    """The program (what --test takes) that target's test names: a program of the suite, or a case's."""
    if target.test is None:
        return None
    names = {name for name, _ in recorded.cases}
    programs = sorted({name.split(".", 1)[0] for name in names} - {*_SUITE_CASES, "runtime", "kernel"})
    program = target.test.split(".", 1)[0]
    if (target.test not in names and program != target.test) or program not in programs:
        raise UserError(f"{target.suite} has no test {target.test!r} (its programs: {', '.join(programs) or 'none'})")
    return program


def expected_exit(recorded: Recorded, program: str | None) -> int:
    """The exit code the run had for program alone (its cases and the boot's), or for the whole suite."""
    picked = [
        status
        for name, status in recorded.cases
        if program is None or name.split(".", 1)[0] in (program, "runtime", "kernel", *_SUITE_CASES)
    ]
    return exit_code(picked)
