"""Verdicts from attempts and history: regression, new failure, flaky, fix (farm.judge.triage)."""

from __future__ import annotations

from dataclasses import dataclass, field

from farm.bisect import BAD, GOOD, SKIP, combine
from farm.judge import triage
from farm.judge.triage import Verdict
from farm.model.results import Attempt, Status, TestResult
from farm.report import compare


@dataclass
class FakeHistory:
    """A history of (test, cell, base line) -> outcomes, oldest first (True: passed)."""

    runs: dict[tuple[str, str, str], list[bool]] = field(default_factory=dict)

    def passed_before(self, test: str, cell: str, base_line: str) -> bool:
        return any(self.runs.get((test, cell, base_line), []))

    def fail_rate(self, test: str, cell: str, base_line: str) -> tuple[int, int]:
        seen = self.runs.get((test, cell, base_line), [])
        return seen.count(False), len(seen)


FAILED_TWICE = TestResult("uffd.events on anon", Status.FAIL, "UFFDIO_COPY error: -2", attempts=(Attempt(Status.FAIL),))
FLAKY = TestResult("uffd.events on anon", Status.PASS, attempts=(Attempt(Status.FAIL, "UFFDIO_COPY error: -2"),))
CLEAN = TestResult("uffd.events on anon", Status.PASS)


def test_failed_every_attempt_after_an_earlier_pass_is_a_regression_else_a_new_failure() -> None:
    history = FakeHistory({("uffd.events on anon", "series-x86_64-thp-on", "v6.12"): [True, True]})
    assert triage.of_result(FAILED_TWICE, "series-x86_64-thp-on", "v6.12", history) is Verdict.REGRESSION
    assert triage.of_result(FAILED_TWICE, "series-arm64-thp-on", "v6.12", history) is Verdict.NEW_FAILURE
    assert triage.of_result(FAILED_TWICE, "series-x86_64-thp-on", "v7.3", history) is Verdict.NEW_FAILURE
    assert triage.of_result(FAILED_TWICE, "series-x86_64-thp-on", "v6.12") is Verdict.FAILED  # no history
    assert Verdict.REGRESSION.fails_run and Verdict.NEW_FAILURE.fails_run and not Verdict.FLAKY.fails_run


def test_a_pass_on_rerun_or_a_history_rate_strictly_between_0_and_1_is_flaky() -> None:
    assert triage.of_result(FLAKY, "c", "v6.12") is Verdict.FLAKY
    flaky = FakeHistory({("uffd.events on anon", "c", "v6.12"): [True, False, True]})
    always = FakeHistory({("uffd.events on anon", "c", "v6.12"): [True, True, True]})
    assert triage.of_result(CLEAN, "c", "v6.12", flaky) is Verdict.FLAKY
    assert triage.of_result(CLEAN, "c", "v6.12", always) is Verdict.PASS
    assert triage.of_result(CLEAN, "c", "v6.12", FakeHistory()) is Verdict.PASS


def test_a_crash_on_one_attempt_and_a_pass_on_another_is_not_a_pass_when_the_crash_is_shown() -> None:
    crashed = TestResult("memory.console", Status.CRASH, "WARNING", attempts=(Attempt(Status.PASS),))
    assert triage.of_result(crashed, "c", "v6.12") is Verdict.FAILED


def test_fix_is_fail_to_pass_except_for_an_intermittent_known_issue() -> None:
    assert triage.change(Status.FAIL, False, Status.PASS, False) is Verdict.FIX
    assert triage.change(Status.XFAIL, True, Status.PASS, False) is None  # intermittent: no fix
    assert triage.change(Status.PASS, False, Status.FAIL, False) is Verdict.REGRESSION
    assert triage.change(Status.PASS, False, Status.PASS, True) is Verdict.FLAKY


def test_an_arm64_intermittent_pass_is_no_fix_and_the_same_failure_on_x86_64_is_a_regression() -> None:
    name = "uffd.events on anon"
    base = [
        compare.Case("arm64-thp-off/default", name, Status.XFAIL, intermittent=True),
        compare.Case("x86_64-thp-off/default", name, Status.PASS),
    ]
    series = [
        compare.Case("arm64-thp-off/default", name, Status.PASS, intermittent=True),
        compare.Case("x86_64-thp-off/default", name, Status.FAIL),
    ]
    changes = compare.diff(base, series)
    assert [(c.kind, c.suite) for c in changes] == [(compare.Kind.REGRESSION, "x86_64-thp-off/default")]


def test_compare_reads_flaky_and_intermittent_back_from_the_junit(tmp_path: object) -> None:
    from datetime import UTC, datetime
    from pathlib import Path

    from farm.model.results import Suite
    from farm.report import junit

    now = datetime.now(UTC)
    path = Path(str(tmp_path)) / "junit.xml"
    xfail = TestResult("uffd.b", Status.XFAIL, "known intermittent: x", intermittent=True)
    junit.write(path, [Suite("series-arm64-on/default", (FLAKY, xfail), {}, "", now, 1.0)])
    cases = {c.name: c for c in compare.from_junit(path)}
    assert cases["uffd.events on anon"].flaky and cases["uffd.events on anon"].status is Status.PASS
    assert cases["uffd.b"].intermittent and cases["uffd.b"].status is Status.XFAIL


def test_bisect_counts_its_runs_with_the_same_tally() -> None:
    assert triage.tally([True, False, None]) == triage.Tally(bad=1, good=1, untestable=1)
    assert triage.Tally(bad=2, good=1).failed(2) and not triage.Tally(bad=1, good=2).failed(2)
    assert triage.Tally(bad=2).failed() and not triage.Tally(bad=2, good=1).failed()  # every attempt
    assert combine([(BAD, "x"), (GOOD, "ok"), (BAD, "y")], 2) == (BAD, "2/3 runs bad: x")
    assert combine([(BAD, "x"), (GOOD, "ok"), (GOOD, "ok")], 2) == (GOOD, "1/3 runs bad (threshold 2)")
    assert combine([(SKIP, "no build"), (SKIP, "no build")], 1) == (SKIP, "no build")


def test_a_runs_arm64_intermittent_xfail_is_no_verdict_and_its_x86_64_failure_a_regression() -> None:
    from datetime import UTC, datetime

    from farm.model.results import Suite

    now, props = datetime.now(UTC), {"base_line": "v6.12"}
    xfail = TestResult("uffd.events on anon", Status.XFAIL, "known intermittent: x", intermittent=True)
    suites = [
        Suite("base-arm64-thp-off/default", (xfail,), props, "", now, 1.0),
        Suite("base-x86_64-thp-off/default", (FAILED_TWICE,), props, "", now, 1.0),
    ]
    history = FakeHistory(
        {
            ("uffd.events on anon", "base-x86_64-thp-off", "v6.12"): [True, True],
            ("uffd.events on anon", "base-arm64-thp-off", "v6.12"): [True, False],
        }
    )
    judged = triage.of_suites(suites, history)
    assert [(j.suite, j.verdict) for j in judged] == [("base-x86_64-thp-off/default", Verdict.REGRESSION)]
