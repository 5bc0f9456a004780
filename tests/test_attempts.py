"""Folding a suite's attempts into one result per test (farm.judge.attempts)."""

from __future__ import annotations

from farm.judge import attempts
from farm.model.results import Attempt, Status, TestResult

PASS = TestResult("memory.read_hole", Status.PASS)
FAIL = TestResult("memory.read_hole", Status.FAIL, "3 pages")
OTHER = TestResult("runtime", Status.PASS)


def test_only_planned_programs_with_a_failed_or_crashed_result_are_rerun() -> None:
    cases = [
        OTHER,
        FAIL,
        TestResult("kernel.console", Status.CRASH, "BUG"),  # no program: nothing to rerun
        TestResult("boot", Status.CRASH, "hung"),
        TestResult("cow.x", Status.XFAIL),
        TestResult("gup.ktap", Status.CRASH, "no KTAP"),
        TestResult("mlock.y", Status.SKIP),
    ]
    assert attempts.rerun(cases, ["runtime", "gup", "memory", "cow", "mlock"]) == ["gup", "memory"]


def test_fail_then_pass_is_a_pass_carrying_the_failure() -> None:
    (case,) = attempts.merge([FAIL], [(["memory"], [PASS])])
    assert case.status is Status.PASS and case.flaky
    assert case.attempts == (Attempt(Status.FAIL, "3 pages"),)


def test_pass_then_fail_on_a_rerun_of_its_program_is_flaky_too() -> None:
    other_case = TestResult("memory.write", Status.FAIL)
    merged = {c.name: c for c in attempts.merge([PASS, other_case], [(["memory"], [FAIL, other_case])])}
    assert merged["memory.read_hole"].flaky
    assert merged["memory.write"].status is Status.FAIL and len(merged["memory.write"].attempts) == 1


def test_fail_every_time_is_the_first_failure_with_the_reruns() -> None:
    again = TestResult("memory.read_hole", Status.CRASH, "killed")
    (case,) = attempts.merge([FAIL], [(["memory"], [again]), (["memory"], [FAIL])])
    assert (case.status, case.message) == (Status.FAIL, "3 pages")
    assert [a.status for a in case.attempts] == [Status.CRASH, Status.FAIL]


def test_results_of_programs_a_rerun_did_not_boot_do_not_count() -> None:
    (_, runtime) = attempts.merge([FAIL, OTHER], [(["memory"], [FAIL, TestResult("runtime", Status.FAIL)])])
    assert runtime == OTHER


def test_a_kernel_report_on_any_attempt_stays_a_crash() -> None:
    report = TestResult("memory.console", Status.CRASH, "WARNING (console line 3)")
    merged = {c.name: c for c in attempts.merge([PASS, report], [(["memory"], [PASS])])}
    assert merged["memory.console"].status is Status.CRASH
    late = {c.name: c for c in attempts.merge([FAIL], [(["memory"], [PASS, report])])}
    assert late["memory.console"].status is Status.CRASH  # seen only on the rerun: a crash all the same
    kernel = TestResult("kernel.console", Status.CRASH, "BUG")
    assert kernel in attempts.merge([FAIL], [(["memory"], [PASS, kernel])])  # whichever program ran


def test_a_missing_result_of_a_program_that_reran_cleanly_passes_on_that_attempt() -> None:
    missing = TestResult("memory.#2", Status.CRASH, "no result: the test or the kernel crashed")
    merged = {c.name: c for c in attempts.merge([PASS, missing], [(["memory"], [PASS])])}
    assert merged["memory.#2"].status is Status.PASS and merged["memory.#2"].flaky
    assert merged["memory.#2"].message == "passed on attempt 2: memory gave every result"
    still = {c.name: c for c in attempts.merge([PASS, missing], [(["memory"], [FAIL])])}
    assert still["memory.#2"].status is Status.CRASH  # the rerun was not clean: the crash stands
