"""The run history as the verdicts ask it (farm.judge.triage.History): the runs recorded before this one.

A command notes where the history stood when it started (mark), and after its run
asks about its results (answers): only runs recorded before the mark count, so a
result is never judged against itself (the command records its run into the same
file), nor against a run another job recorded meanwhile. The verdicts' own
questions are asked once, here (triage.of_suites asks them of a recorder), and
their answers kept, so printing the verdicts reads no file and cannot fail.
A history that is missing, locked past a short wait or damaged is no history:
None, and the verdicts say "failed" as without one (recording prints its own
warning line about such a file; nothing more is said here).

The store matches cells by a glob over CELL or CELL/RUNTIME; the verdicts name one
cell exactly, so its glob characters are escaped. A base line "" (a suite without
base properties, an old ingested file) is not scoped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from farm.judge import triage
from farm.model.errors import ZpfarmError
from farm.model.results import Suite
from farm.report.history.store import History
from farm.report.history.trend import DEFAULT_LAST

READ_TIMEOUT = 2.0  # seconds to wait for a file another process is setting up; a reader in WAL never waits
Key = tuple[str, str, str]  # test, cell, base line


@dataclass(frozen=True)
class Mark:
    """Where a history stood: its file, and the number of the run recorded last (0: none)."""

    path: Path
    run: int


def mark(path: Path, timeout: float = READ_TIMEOUT) -> Mark | None:
    """The history at path as it is now; None when there is none to read (missing, locked, damaged)."""
    if not path.is_file():
        return None
    try:
        with History.open(path, timeout=timeout, create=False) as history:
            return Mark(path, history.latest_run())
    except (ZpfarmError, sqlite3.Error, OSError):
        return None


@dataclass(frozen=True)
class Answers:
    """What the history said about a run's results (triage.History); a question not asked: no history."""

    passed: Mapping[Key, bool] = field(default_factory=dict)
    rates: Mapping[Key, tuple[int, int]] = field(default_factory=dict)

    def passed_before(self, test: str, cell: str, base_line: str) -> bool:
        return self.passed.get((test, cell, base_line), False)

    def fail_rate(self, test: str, cell: str, base_line: str) -> tuple[int, int]:
        return self.rates.get((test, cell, base_line), (0, 0))


def answers(
    at: Mark | None, suites: Sequence[Suite], last: int = DEFAULT_LAST, timeout: float = READ_TIMEOUT
) -> Answers | None:
    """The history's answers to every question the verdicts of suites ask, from the runs before at.

    last: the fail rate's window (runs). None when at is None or the file cannot be read now.
    """
    if at is None:
        return None
    try:
        with History.open(at.path, timeout=timeout, create=False) as history:
            asked = _Asking(history, at.run + 1, last)
            triage.of_suites(suites, asked)
    except (ZpfarmError, sqlite3.Error, OSError):
        return None
    return Answers(asked.passed, asked.rates)


def literal(name: str) -> str:
    """name as a SQLite GLOB that matches only itself."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


class _Asking:
    """triage.History over the store, each answer kept (errors go up to answers())."""

    def __init__(self, history: History, before_run: int, last: int) -> None:
        self.history, self.before_run, self.last = history, before_run, last
        self.passed: dict[Key, bool] = {}
        self.rates: dict[Key, tuple[int, int]] = {}

    def passed_before(self, test: str, cell: str, base_line: str) -> bool:
        key = (test, cell, base_line)
        if key not in self.passed:
            found = self.history.passed_before(test, literal(cell), base_line or None, self.before_run)
            self.passed[key] = found
        return self.passed[key]

    def fail_rate(self, test: str, cell: str, base_line: str) -> tuple[int, int]:
        key = (test, cell, base_line)
        if key not in self.rates:
            rate = self.history.fail_rate(test, literal(cell), self.last, base_line or None, self.before_run)
            self.rates[key] = (rate.failed, rate.n)
        return self.rates[key]
