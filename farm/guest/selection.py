"""Which guest programs a run may name, checked before any lock or build.

A name selects the testcases program of that name, a selftest run of that
name or every run it is the prefix of ("selftests-mm-uffd-unit-tests" selects
each uffd group), or "selftests" for all of the kernel's selftests. A name
that selects nothing is bad input: a typo must never end in a green run that
tested nothing. The series' own selftest is named by the file its patch adds
(tools/testing/selftests/mm/*zeropage*.c), read from the series before any build.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from farm.guest import selftest_runs, selftests, testcases
from farm.model.errors import UserError
from farm.model.matrix import Matrix

SELFTESTS = "selftests"


@dataclass(frozen=True)
class Selection:
    """The programs a run asked for (empty: every one)."""

    names: tuple[str, ...] = ()

    def wants(self, program: str) -> bool:
        """Whether program runs; the selftests' setup step runs with any selftest (swap, debugfs, hugetlb)."""
        if program == selftests.SETUP_NAME:
            return self.wants_selftests()
        return not self.names or any(_selects(n, program) for n in self.names)

    def wants_selftests(self) -> bool:
        return not self.names or any(n.startswith(SELFTESTS) for n in self.names)

    def testcases(self) -> tuple[str, ...]:
        """The testcases names asked for; () with testcases wanted means all of them."""
        return tuple(n for n in self.names if not n.startswith(SELFTESTS))

    def wants_testcases(self) -> bool:
        return not self.names or bool(self.testcases())


def _selects(name: str, program: str) -> bool:
    if name == SELFTESTS:
        return program.startswith(f"{SELFTESTS}-")
    return program == name or (program.startswith(f"{name}-") and name.startswith(SELFTESTS))


def known(testcases_dir: Path, new_selftests: Sequence[str] = ()) -> list[str]:
    """Every program name a run can have; new_selftests: the runs of the series' own selftests."""
    runs = [r.name for r in selftest_runs.RUNS]
    return [*testcases.names(testcases_dir), selftests.SETUP_NAME, *runs, *new_selftests]


def select(
    testcases_dir: Path, names: Sequence[str], what: str = "--test", new_selftests: Sequence[str] = ()
) -> Selection:
    """The Selection for names; UserError for the first name that selects nothing."""
    programs = known(testcases_dir, new_selftests)
    for name in names:
        if not any(_selects(name, p) for p in programs):
            close = [p for p in programs if p.startswith(name[:4])] or programs
            raise UserError(f"{what} {name!r}: selects no test program (e.g. {', '.join(close[:6])})")
    return Selection(tuple(names))


def check_runtimes(matrix: Matrix, new_selftests: Sequence[str] = ()) -> None:
    """Every [runtime.NAME] tests entry names a program (UserError naming the runtime)."""
    runtimes = {rt.name: rt for cell in matrix.cells for rt in cell.runtimes}
    for rt in runtimes.values():
        select(matrix.testcases_dir, rt.tests, f"{matrix.path.name}: [runtime.{rt.name}] tests:", new_selftests)
