"""What a run says about a series, for the reports that leave the farm (pure).

A series case that fails, crashes or does not build is a regression when
its base twin passed (or has none); one that fails on base too is not the
series' doing. A case that never ran (infrastructure, bad input) leaves the
series untested there. build-each and bisect name the first bad patch
(Blame). Email and patchwork checks both read a Findings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from farm.model.results import Status, Suite, TestResult
from farm.model.seriesinfo import PatchInfo, SeriesInfo
from farm.model.suite_id import SuiteId

BAD = frozenset({Status.FAIL, Status.CRASH, Status.BUILD})
UNTESTED = frozenset({Status.INFRA, Status.INPUT})
BUILD_EACH = "build-each/"
_FIRST_BAD = re.compile(r"^([0-9a-f]{40}) is the first bad commit\n(?:.*\n)*?\n {4}(\S.*)$", re.M)
_STEP = re.compile(r"^(\d{4}) (.+)$")


@dataclass(frozen=True)
class Problem:
    """One case of one suite that the report must name."""

    suite: str
    case: TestResult
    on_base: Status | None = None  # the same case's status on base; None: base has no such case

    @property
    def cell(self) -> str:
        return (
            self.suite.removeprefix(BUILD_EACH) if self.suite.startswith(BUILD_EACH) else SuiteId.parse(self.suite).cell
        )

    @property
    def runtime(self) -> str:
        return "" if self.suite.startswith(BUILD_EACH) else SuiteId.parse(self.suite).runtime


@dataclass(frozen=True)
class Blame:
    """The first patch that breaks something, as build-each or bisect named it."""

    subject: str
    number: int | None  # 1-based position in the series, when the tool knows it
    tool: str  # "build-each" or "bisect"
    cell: str = ""  # where: "" when the tool does not say
    why: str = ""

    def patch(self, info: SeriesInfo | None) -> PatchInfo | None:
        """The series.json entry of the blamed patch (by position, else by subject)."""
        if info is None:
            return None
        if self.number is not None and 1 <= self.number <= len(info.patches):
            return info.patches[self.number - 1]
        return next((p for p in info.patches if _same_subject(p.subject, self.subject)), None)


def _same_subject(a: str, b: str) -> bool:
    strip = re.compile(r"^\[[^]]*\]\s*")
    return " ".join(strip.sub("", a).split()) == " ".join(strip.sub("", b).split())


@dataclass(frozen=True)
class Findings:
    suites: tuple[Suite, ...]  # the run's suites (build-each's too)
    regressions: tuple[Problem, ...]
    also_on_base: tuple[Problem, ...]  # failing on the series and on base: not the series' doing
    untested: tuple[Problem, ...]
    blames: tuple[Blame, ...]

    @property
    def clean(self) -> bool:
        """Nothing broke and everything ran: the run can vouch for the series (Tested-by)."""
        return not self.regressions and not self.untested

    def blame(self, problem: Problem) -> Blame | None:
        """The first bad patch of a problem: one named for its cell, else one named for no cell."""
        mine = [b for b in self.blames if b.cell == problem.cell] or [b for b in self.blames if not b.cell]
        return mine[0] if mine else None


def _key(suite: str) -> tuple[str, str]:
    """(kernel, suite name without it): "series-x86_64-thp-on/default" -> ("series", "x86_64-thp-on/default")."""
    sid = SuiteId.parse(suite)
    return (sid.kernel.value, sid.pair_key) if sid.kernel else ("", suite)


def find(suites: Sequence[Suite], blames: Sequence[Blame] = ()) -> Findings:
    """Sort the run's cases into regressions, failures base has too, and cases that never ran."""
    base = {(_key(s.name)[1], c.name): c.status for s in suites if _key(s.name)[0] == "base" for c in s.cases}
    regressions, also, untested = [], [], []
    for suite in suites:
        kernel, key = _key(suite.name)
        if kernel == "base":
            continue
        for case in suite.cases:
            before = base.get((key, case.name))
            problem = Problem(suite.name, case, before)
            if case.status in UNTESTED:
                untested.append(problem)
            elif case.status in BAD and before in BAD:
                also.append(problem)
            elif case.status in BAD:
                regressions.append(problem)
    found = [*blames, *from_build_each(suites)]
    return Findings(tuple(suites), tuple(regressions), tuple(also), tuple(untested), tuple(dict.fromkeys(found)))


def from_build_each(suites: Sequence[Suite]) -> list[Blame]:
    """build-each's first failing patch in each of its cells ("build-each/CELL", cases "NNNN subject")."""
    found = []
    for suite in suites:
        if not suite.name.startswith(BUILD_EACH):
            continue
        for case in suite.cases:
            m = _STEP.match(case.name)
            if m and int(m[1]) > 0 and case.status in BAD:
                cell = suite.name.removeprefix(BUILD_EACH)
                found.append(Blame(m[2], int(m[1]), "build-each", cell, case.message))
                break
    return found


def from_bisect_log(text: str, cell: str = "") -> Blame | None:
    """The first bad commit git bisect run printed (its subject is the commit message's first line)."""
    m = _FIRST_BAD.search(text)
    return Blame(m[2].strip(), None, "bisect", cell, f"git bisect: {m[1][:12]} is the first bad commit") if m else None
