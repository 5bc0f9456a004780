"""The run history as the HTML report asks for it (farm.report.past.History), read from the history file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from farm.report.history import noise
from farm.report.history.store import History
from farm.report.past import Past, Point


@dataclass(frozen=True)
class PastView:
    history: History

    def outcomes(self, suite: str, test: str, last: int) -> Sequence[Past]:
        return [Past(str(o.run), o.status, o.series) for o in self.history.outcomes(test, suite, last=last)]

    def flaky(self, last: int) -> Sequence[tuple[str, str]]:
        return [(f.suite, f.test) for f in self.history.flaky(last)]

    def trend(self, suite: str, test: str, metric: str, last: int) -> Sequence[Point]:
        """One point per earlier run: a run measures a metric once, so its interval is the value itself."""
        return [Point(str(s.run), s.value, s.value, s.value) for s in self.history.metric(test, metric, suite, last)]

    def noise_band(self, metric: str) -> float | None:
        """What the last A/A in the history moved metric by (noise.last_aa); None: no A/A, the default band."""
        found = noise.last_aa(self.history, metric)
        return None if found is None else found.value
