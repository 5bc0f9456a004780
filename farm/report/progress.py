"""What a run reports as it goes: the Reporter the pipeline calls, and counts per suite.

The pipeline calls a Reporter from two threads (builder and booter), so
implementations must be thread-safe; farm/ui.py has the terminal ones.
Nothing here decides anything or draws anything.
"""

from __future__ import annotations

from typing import Protocol

from farm.model.results import Status, Suite


class Reporter(Protocol):
    def notice(self, text: str) -> None:
        """Something the user should read now (a wait, a fallback)."""
        ...

    def phase(self, cell: str, phase: str, detail: str = "") -> None:
        """A cell entered a phase: build, built, boot RUNTIME."""
        ...

    def line(self, cell: str, text: str) -> None:
        """The latest line of output of the cell's current phase."""
        ...

    def suite_done(self, suite: Suite) -> None:
        """A <testsuite> is final (and written to the JUnit file)."""
        ...


def tally(suite: Suite) -> dict[Status, int]:
    counts = dict.fromkeys(Status, 0)
    for case in suite.cases:
        counts[case.status] += 1
    return counts
