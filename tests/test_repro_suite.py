"""What the run's JUnit says of the suite a bundle reproduces: read as untrusted, judged as cli.py would."""

from __future__ import annotations

from pathlib import Path

import pytest

from farm import repro_suite
from farm.model.errors import UserError
from farm.model.results import Status


def test_a_junit_that_is_not_one_or_lacks_the_suite_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "j.xml").write_text("<testsuites><testsuite name='a/b'/></testsuites>")
    with pytest.raises(UserError, match=r"no suite 'c/d' \(suites: a/b\)"):
        repro_suite.read_suite(tmp_path / "j.xml", "c/d")
    (tmp_path / "j.xml").write_text("<testsuites><testsuite")
    with pytest.raises(UserError, match="not a whole XML file"):
        repro_suite.read_suite(tmp_path / "j.xml", "c/d")


def test_the_expected_exit_is_the_tests_and_the_boots_never_another_programs() -> None:
    cases = (("runtime", Status.PASS), ("memory.a", Status.PASS), ("zeropage.b", Status.FAIL))
    run = repro_suite.Recorded({}, cases)
    assert [repro_suite.expected_exit(run, p) for p in ("memory", "zeropage", None)] == [0, 1, 1]
    crashed = repro_suite.Recorded({}, (*cases, ("kernel.console", Status.CRASH), ("boot", Status.INFRA)))
    assert repro_suite.expected_exit(crashed, "memory") == 3  # infra wins over a crash, as cli.py decides


@pytest.mark.parametrize(
    ("text", "target", "suite"),
    [
        ("a/b", repro_suite.Target("a", "b"), "a/b"),
        ("c/r/zeropage.read_hole[memfd]", repro_suite.Target("c", "r", "zeropage.read_hole[memfd]"), "c/r"),
    ],
)
def test_a_target_is_cell_runtime_and_maybe_a_test(text: str, target: repro_suite.Target, suite: str) -> None:
    assert repro_suite.Target.parse(text) == target
    assert target.suite == suite
