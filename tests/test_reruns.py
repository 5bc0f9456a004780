"""Reruns through the real pipeline with fake stages: flaky, persistent, crash, infra, time (farm.reruns)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import junitparser
import pytest
import xmlschema
from test_pipeline import GOOD_KTAP, FakeStages, run

import cli
from farm import pipeline
from farm.commands.common import Outcome, flaky_gate
from farm.host.cache import Cache
from farm.model.errors import UserError
from farm.model.matrix import Cell, Runtime
from farm.model.programs import GuestTest
from farm.model.results import Booted, Report, Status
from farm.options import Options
from farm.stages import GuestImage

XSD = Path(__file__).parent / "data" / "junit-10.xsd"
MEMORY_FAILS = (
    "KTAP version 1\n1..2\nok 1 runtime\n    # Subtest: memory\n    1..1\n"
    "    # read_hole: 3 pages allocated, expected 0\n    not ok 1 read_hole\nnot ok 2 memory\n"
)
MEMORY_PASSES = "KTAP version 1\n1..1\n    # Subtest: memory\n    1..1\n    ok 1 read_hole\nok 1 memory\n"
STILL_FAILING = "    # still 3 pages\n    not ok 1 read_hole"
MEMORY_FAILS_ALONE = MEMORY_PASSES.replace("    ok 1 read_hole", STILL_FAILING).replace(
    "ok 1 memory", "not ok 1 memory"
)
CLEAN = "Linux version 6.12.117\nreboot: Power down\n"
WARNS = (
    "Linux version 6.12.117\nzpfarm: begin memory\n"
    "[    3.681437] WARNING: CPU: 0 PID: 1 at mm/shmem.c:2412 shmem_fault+0x1c/0x40\n"
    "[    3.681500] ---[ end trace 0000000000000000 ]---\nzpfarm: end memory\nreboot: Power down\n"
)
NO_START = "qemu-system-x86_64: failed to initialize kvm: Permission denied\n"


@dataclass
class AttemptStages(FakeStages):
    """FakeStages whose boots, in order, give these (ktap, console, elapsed); the last one repeats."""

    boots: list[tuple[str, str, float]] = field(default_factory=list)
    wheres: list[Path] = field(default_factory=list)
    programs: list[list[str]] = field(default_factory=list)

    def boot(self, cell: Cell, runtime: Runtime, guest: GuestImage, tests: Sequence[GuestTest], where: Path) -> Booted:
        ktap, console, elapsed = self.boots[min(len(self.wheres), len(self.boots) - 1)]
        self.wheres.append(where)
        self.programs.append([t.name for t in tests])
        where.mkdir(parents=True, exist_ok=True)
        (where / "console.log").write_text(console)
        return Booted(0, elapsed, False, "Linux version" in console, ktap, where / "console.log", "tcg")


def one_cell(tmp_path: Path, stages: AttemptStages, retries: int = 1) -> Report:
    from test_pipeline import write_matrix

    m = write_matrix(tmp_path)
    return run(tmp_path, stages, m, cells=m.select(["base-*"]), retries=retries)


def cases(tmp_path: Path) -> dict[str, ET.Element]:
    root = ET.parse(tmp_path / "junit.xml").getroot()
    return {c.get("name", ""): c for c in root.iter("testcase")}


def test_a_program_failing_then_passing_is_one_passing_testcase_with_one_flaky_failure(tmp_path: Path) -> None:
    stages = AttemptStages(tmp_path, boots=[(MEMORY_FAILS, CLEAN, 5.0), (MEMORY_PASSES, CLEAN, 3.0)])
    report = one_cell(tmp_path, stages)
    assert stages.programs == [["memory"], ["memory"]]  # only the failed program, in a fresh guest
    assert stages.wheres[1] == stages.wheres[0] / "attempt-2"
    xmlschema.XMLSchema(str(XSD)).validate(str(tmp_path / "junit.xml"))
    case = cases(tmp_path)["memory.read_hole"]
    assert [child.tag for child in case] == ["flakyFailure"]
    assert case[0].get("type") == "fail" and "3 pages allocated" in (case[0].get("message") or "")
    assert report.flaky() == ["base-x86_64-on/default: memory.read_hole"]
    assert report.suites[0].properties["attempts"] == "2"
    assert cli.exit_code(report) == 0
    assert flaky_gate(report, fail_on_flaky=False) is report
    assert flaky_gate(report, fail_on_flaky=True) is Outcome.FAILED  # --fail-on-flaky: exit 1
    tc = next(iter(next(iter(junitparser.JUnitXml.fromfile(str(tmp_path / "junit.xml"))))))
    assert tc.is_passed  # what a reader that knows no flakyFailure sees


def test_a_program_failing_twice_is_a_failure_with_a_rerun_failure_and_exit_1(tmp_path: Path) -> None:
    stages = AttemptStages(tmp_path, boots=[(MEMORY_FAILS, CLEAN, 5.0), (MEMORY_FAILS_ALONE, CLEAN, 3.0)])
    report = one_cell(tmp_path, stages)
    xmlschema.XMLSchema(str(XSD)).validate(str(tmp_path / "junit.xml"))
    case = cases(tmp_path)["memory.read_hole"]
    assert [child.tag for child in case] == ["failure", "rerunFailure"]
    assert "still 3 pages" in (case[1].find("system-out").text or "")  # type: ignore[union-attr]
    assert cli.exit_code(report) == 1
    assert flaky_gate(report, fail_on_flaky=True) is report  # red anyway: the report's own code


def test_retries_n_reruns_what_still_fails_up_to_n_times(tmp_path: Path) -> None:
    stages = AttemptStages(tmp_path, boots=[(MEMORY_FAILS, CLEAN, 5.0), (MEMORY_FAILS_ALONE, CLEAN, 3.0)])
    one_cell(tmp_path, stages, retries=3)
    assert len(stages.wheres) == 4
    assert [child.tag for child in cases(tmp_path)["memory.read_hole"]] == ["failure", *["rerunFailure"] * 3]


def test_retries_0_boots_once(tmp_path: Path) -> None:
    stages = AttemptStages(tmp_path, boots=[(MEMORY_FAILS, CLEAN, 5.0), (MEMORY_PASSES, CLEAN, 3.0)])
    report = one_cell(tmp_path, stages, retries=0)
    assert len(stages.wheres) == 1 and cli.exit_code(report) == 1


def test_a_kernel_warning_on_attempt_1_stays_a_crash_after_a_clean_attempt_2(tmp_path: Path) -> None:
    ok_with_warning = MEMORY_FAILS.replace("not ok 1 read_hole", "ok 1 read_hole").replace("not ok 2", "ok 2")
    stages = AttemptStages(tmp_path, boots=[(ok_with_warning, WARNS, 5.0), (MEMORY_PASSES, CLEAN, 3.0)])
    report = one_cell(tmp_path, stages)
    assert len(stages.wheres) == 2  # the program that was running is booted again...
    crash = cases(tmp_path)["memory.console"]
    assert crash.find("error") is not None and crash.find("error").get("type") == "crash"  # type: ignore[union-attr]
    assert cli.exit_code(report) == 1  # ...and the clean rerun hides nothing


def test_a_guest_that_never_started_is_booted_again_at_most_twice_more(tmp_path: Path) -> None:
    stages = AttemptStages(tmp_path, boots=[("", NO_START, 1.0), (GOOD_KTAP, CLEAN, 2.0)])
    report = one_cell(tmp_path, stages)
    assert len(stages.wheres) == 2 and stages.wheres[1].name == "infra-retry-1"
    assert report.suites[0].properties["infra_retries"] == "1"
    assert cli.exit_code(report) == 0
    stuck = AttemptStages(tmp_path / "stuck", boots=[("", NO_START, 1.0)])
    (tmp_path / "stuck").mkdir()
    report = one_cell(tmp_path / "stuck", stuck)
    assert len(stuck.wheres) == 3  # the first boot and 2 retries
    assert cli.exit_code(report) == 3


def test_a_rerun_that_cannot_finish_in_the_suites_time_is_skipped_and_says_so(tmp_path: Path) -> None:
    # The suite may take boot_timeout (300 s) + memory's 60 s; the first boot took 350 s.
    stages = AttemptStages(tmp_path, boots=[(MEMORY_FAILS, CLEAN, 350.0), (MEMORY_PASSES, CLEAN, 3.0)])
    report = one_cell(tmp_path, stages)
    assert len(stages.wheres) == 1
    note = report.suites[0].properties["rerun_notes"]
    assert "rerun 1 of memory skipped: it would not finish in the suite's time" in note
    assert cli.exit_code(report) == 1


def test_negative_retries_are_bad_input(tmp_path: Path) -> None:
    from test_pipeline import write_matrix

    m = write_matrix(tmp_path)
    with pytest.raises(UserError, match="--retries -1"):
        pipeline.options(m, m.cells, Cache(tmp_path / "c"), tmp_path / "out", tmp_path / "j.xml", retries=-1)


def test_status_of_a_flaky_case_is_pass(tmp_path: Path) -> None:
    stages = AttemptStages(tmp_path, boots=[(MEMORY_FAILS, CLEAN, 5.0), (MEMORY_PASSES, CLEAN, 3.0)])
    report = one_cell(tmp_path, stages)
    (case,) = [c for c in report.suites[0].cases if c.name == "memory.read_hole"]
    assert case.status is Status.PASS and case.flaky and case.attempts[0].status is Status.FAIL


def test_the_runs_summary_names_flaky_tests_and_failures_by_verdict(tmp_path: Path) -> None:
    from rich.console import Console

    from farm import ui

    stages = AttemptStages(tmp_path, boots=[(MEMORY_FAILS, CLEAN, 5.0), (MEMORY_PASSES, CLEAN, 3.0)])
    report = one_cell(tmp_path, stages)
    console = Console(width=200, record=True)
    ui.print_summary(console, report, tmp_path / "junit.xml")
    text = console.export_text()
    assert "flaky: 1\n  base-x86_64-on/default: memory.read_hole (failed once: read_hole: 3 pages allocated" in text
    persistent = AttemptStages(tmp_path / "p", boots=[(MEMORY_FAILS, CLEAN, 5.0), (MEMORY_FAILS_ALONE, CLEAN, 3.0)])
    (tmp_path / "p").mkdir()
    report = one_cell(tmp_path / "p", persistent)
    console = Console(width=200, record=True)
    ui.print_summary(console, report, tmp_path / "p" / "junit.xml")
    assert "failed: 1\n  base-x86_64-on/default: memory.read_hole" in console.export_text()  # no history: "failed"


def test_zpfarm_run_exits_0_on_a_flake_1_with_fail_on_flaky_and_2_on_an_expired_known_issue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_pipeline import write_matrix
    from typer.testing import CliRunner

    write_matrix(tmp_path)
    real_run = pipeline.run
    seen: list[int] = []

    def with_fakes(opts: Options, reporter: object, report: Report | None = None) -> Report:
        seen.append(opts.retries)
        stages = AttemptStages(tmp_path, boots=[(MEMORY_FAILS, CLEAN, 5.0), (MEMORY_PASSES, CLEAN, 3.0)])
        return real_run(opts, reporter, stages, report)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "run", with_fakes)
    args = ["run", "--matrix", str(tmp_path / "matrix.toml"), "-c", "base-*", "-q", "--results", str(tmp_path / "r")]
    args += ["--cache", str(tmp_path / "cache")]
    runner = CliRunner()
    assert runner.invoke(cli.app, args).exit_code == 0
    assert runner.invoke(cli.app, [*args, "--fail-on-flaky"]).exit_code == 1
    assert seen == [1, 1]  # --retries defaults to 1
    expectations = tmp_path / "testcases" / "expectations.toml"
    expectations.write_text('[[expect]]\nmatch = "memory.*"\nintermittent = true\nreason = "r"\nexpires = 2026-01-01\n')
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 2 and "expectations.toml: [[expect]] #1 (match 'memory.*'): expired" in result.output
