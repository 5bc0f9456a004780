"""What the report asks of the run history: a small Protocol the history file implements.

The report never opens the history itself: `zpfarm report html --history FILE`
hands it an object with these methods (farm's history package provides one;
tests use a fake). Tests are named as in the JUnit: the suite
("series-x86_64-thp-on/default": kernel, cell, runtime) and the test case.
Every sequence is oldest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from farm.model.results import Status


@dataclass(frozen=True)
class Past:
    """One earlier run of a test."""

    run: str  # how the history names the run (an id, a date, a pipeline)
    status: Status
    series: str = ""  # the series it ran with, if any


@dataclass(frozen=True)
class Point:
    """A metric in one earlier run: its median and 95% interval."""

    run: str
    median: float
    low: float
    high: float


class History(Protocol):
    def outcomes(self, suite: str, test: str, last: int) -> Sequence[Past]:
        """The test's last runs in that suite, at most `last`."""
        ...

    def flaky(self, last: int) -> Sequence[tuple[str, str]]:
        """(suite, test) of the tests that both passed and failed in their last runs."""
        ...

    def trend(self, suite: str, test: str, metric: str, last: int) -> Sequence[Point]:
        """The metric's last runs, at most `last`."""
        ...

    def noise_band(self, metric: str) -> float | None:
        """What the last A/A run moved this metric by (a fraction), or None when never measured.

        metric is "PAIR: TEST: NAME", PAIR the suite without its kernel ("x86_64-thp-on/default").
        """
        ...
