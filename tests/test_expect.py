"""Tests for farm.expect: loading expectations.toml and applying it to KTAP."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from farm.judge import ktap
from farm.judge.expect import CRASH_MESSAGE, Expectation, Outcome, evaluate, find, load
from farm.model.errors import UserError
from farm.model.results import Status

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
EXPECTATIONS = ROOT / "testcases" / "expectations.toml"
MEMORY = ktap.parse((DATA / "expect" / "memory_host.log").read_text())

HOLE = Expectation("memory.read_hole_*", Outcome.FAIL, Outcome.PASS, "base allocates a page")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "expectations.toml"
    path.write_text(text)
    return path


def test_load_the_real_file() -> None:
    expectations = load(EXPECTATIONS)
    assert len(expectations) >= 1
    first = expectations[0]
    assert first.match == "memory.read_hole_*[[]memfd,*"
    assert (first.base, first.series) == (Outcome.FAIL, Outcome.PASS)
    assert first.why.startswith("base allocates a page per read fault")


def test_load_example_from_the_brief(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[[expect]]\nmatch = "memory.read_hole_*"\nbase = "fail"\nseries = "pass"\n'
        'why = "base allocates a page per read fault of a hole"\n',
    )
    assert load(path) == (
        Expectation(
            "memory.read_hole_*",
            Outcome.FAIL,
            Outcome.PASS,
            "base allocates a page per read fault of a hole",
        ),
    )
    assert load(_write(tmp_path, "")) == ()


GOOD = 'match = "a.*"\nbase = "pass"\nseries = "pass"\nwhy = "w"\n'
FLAKY = GOOD.replace('series = "pass"', 'series = "flaky"')
NUMBER = GOOD.replace('why = "w"', "why = 3")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            f"[[expect]]\n{GOOD}[[expect]]\n{GOOD}[[expect]]\n{GOOD.replace('base', 'bse')}",
            "expectations.toml: [[expect]] #3: unknown key 'bse'",
        ),
        (
            '[[expect]]\nmatch = "a"\nbase = "pass"\nseries = "pass"\n',
            "expectations.toml: [[expect]] #1 (match 'a'): missing key 'why'",
        ),
        (
            f"[[expect]]\n{FLAKY}",
            "expectations.toml: [[expect]] #1 (match 'a.*'): 'series' must be 'pass' or 'fail', not 'flaky'",
        ),
        (
            f"[[expect]]\n{NUMBER}",
            "expectations.toml: [[expect]] #1 (match 'a.*'): 'why' must be a non-empty string",
        ),
        (
            "[[expectation]]\nmatch = 'x'\n",
            "expectations.toml: unknown top-level key 'expectation'",
        ),
        ('expect = "x"\n', "expectations.toml: 'expect' must be an array of tables ([[expect]])"),
    ],
)
def test_load_rejects_bad_input(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UserError) as caught:
        load(_write(tmp_path, text))
    assert str(caught.value) == message


def test_load_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"^expectations\.toml: .*line 1"):
        load(_write(tmp_path, "[[expect]\n"))
    with pytest.raises(UserError, match=r"^nothing\.toml: cannot read"):
        load(tmp_path / "nothing.toml")


def test_real_base_output_is_all_known_failures() -> None:
    results = evaluate(MEMORY, "base", load(EXPECTATIONS), program="memory")
    assert Counter(r.status for r in results) == {Status.XFAIL: 29, Status.SKIP: 13, Status.PASS: 3}
    first = results[0]
    assert first.name == "memory.read_hole_meminfo[memfd,private]"
    assert first.message == (
        "known to fail on base: base allocates a page per read fault of a hole; "
        "the series maps the shared zero page; shmem_delta_kb=65424; region_kb=65536"
    )
    assert first.metrics == {"shmem_delta_kb": 65424.0, "region_kb": 65536.0}
    assert first.output.splitlines()[-1].startswith("# read_hole_meminfo:58: expected after")


def test_same_output_on_the_series_is_a_failure() -> None:
    results = evaluate(MEMORY, "series", load(EXPECTATIONS), program="memory")
    assert Counter(r.status for r in results) == {Status.FAIL: 29, Status.SKIP: 13, Status.PASS: 3}
    first = results[0]
    assert first.message == (
        "read_hole_meminfo:58: expected after - before < ZP_MEM_SLACK_KB; "
        "Shmem grew by 65424 kB reading a 65536 kB hole"
    )
    skipped = results[4]
    assert skipped.status is Status.SKIP
    assert skipped.message == ("ZPFARM_TMPFS_HUGE not set (no THP in this kernel or no huge=always tmpfs)")


def test_unexpected_pass() -> None:
    root = ktap.parse("KTAP version 1\n1..1\nok 1 read_hole_anon\n")
    (result,) = evaluate(root, "base", [HOLE], program="memory")
    assert result.status is Status.FAIL
    assert result.message == "unexpectedly passed (expected to fail on base: base allocates a page)"
    (result,) = evaluate(root, "series", [HOLE], program="memory")
    assert result.status is Status.PASS
    assert result.message == ""


def test_first_match_wins_and_default_is_pass() -> None:
    other = Expectation("memory.*", Outcome.PASS, Outcome.PASS, "everything passes")
    assert find("memory.read_hole_x", [HOLE, other]) is HOLE
    assert find("memory.read_hole_x", [other, HOLE]) is other
    assert find("coherence.x", [HOLE]) is None
    assert find("Memory.read_hole_x", [HOLE]) is None  # case matters


def test_crash_and_parse_errors_are_never_dropped() -> None:
    root = ktap.parse((DATA / "ktap" / "crash_midway.log").read_text())
    results = evaluate(root, "base", [HOLE], program="memory")
    by_name = {r.name: r for r in results}
    assert by_name["memory.read_hole_anon"].status is Status.FAIL  # expected to fail on base
    assert by_name["memory.read_hole_shmem"].status is Status.XFAIL
    assert by_name["memory.#3"].status is Status.CRASH
    assert by_name["memory.#3"].message == CRASH_MESSAGE
    ktap_case = by_name["memory.ktap"]
    assert ktap_case.status is Status.CRASH
    assert ktap_case.message == "expected 5 tests, got 2: crashed or stopped early"
    assert "#5: test 5 of 5 has no result line" in ktap_case.output
    assert len(results) == 6


def test_one_stream_with_programs_at_top_level() -> None:
    root = ktap.parse((DATA / "ktap" / "kselftest_runner.log").read_text())
    results = evaluate(root, "series", [])
    names = [r.name for r in results if r.name.endswith(".ktap")]
    assert names == ["selftests: zp: crash_midway.ktap", "selftests: zp: bail_out.ktap"]
    xfail = next(r for r in results if r.name == "selftests: zp: ksft_mixed.#4")
    # kselftest's own XFAIL: a known failure (JUnit <skipped type="xfail">), never a pass, not a failure
    assert xfail.status is Status.XFAIL
    assert xfail.message == "the test declares it a known failure: XFAIL zero page not mapped yet"


def test_root_level_errors_without_a_program() -> None:
    (result,) = evaluate(ktap.parse("no tap here\n"), "base", [])
    assert result.name == "ktap"
    assert result.status is Status.CRASH
    assert result.message == "no test results found"


def test_unknown_kernel_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="kernel must be one of"):
        evaluate(MEMORY, "bsae", [])
