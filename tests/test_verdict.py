"""The verdict on real boots (tests/data/guest/): every way a boot can end, judged as the farm judges it."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import cli
from farm.judge import ktap, verdict
from farm.model.matrix import Kernel
from farm.model.results import Booted, Report, Status, Suite, TestResult

GUEST = Path(__file__).parent / "data" / "guest"
BOOTS = sorted(p.name for p in GUEST.iterdir() if p.is_dir())


def judge(name: str) -> list[TestResult]:
    where = GUEST / name
    facts = json.loads((where / "booted.json").read_text())
    ktap_text = (where / "results.ktap").read_text()
    booted = Booted(
        facts["returncode"], facts["elapsed"], facts["timed_out"], facts["finished"], ktap_text, where / "console.log"
    )
    console = (where / "console.log").read_text(errors="replace")
    return verdict.judge(booted, console, Kernel.BASE, facts["planned"], ())


def test_the_corpus_has_every_way_a_boot_ends() -> None:
    assert len(BOOTS) >= 6
    for name in BOOTS:
        assert {p.name for p in (GUEST / name).iterdir()} == {
            "results.ktap",
            "console.log",
            "booted.json",
            "expected.json",
        }


@pytest.mark.parametrize("name", BOOTS)
def test_each_boot_is_judged_as_expected(name: str) -> None:
    expected = json.loads((GUEST / name / "expected.json").read_text())
    cases = judge(name)
    assert {c.name: c.status.value for c in cases} == expected["cases"]
    assert len({c.name for c in cases}) == len(cases)  # every case once
    report = Report([Suite(f"base-x86_64-thp-off/{name}", tuple(cases), {}, "", datetime.now(UTC), 0.0)])
    assert cli.exit_code(report) == expected["exit_code"]


def test_a_panic_is_blamed_on_the_program_that_was_running() -> None:
    cases = {c.name: c for c in judge("panic_mid_program")}
    assert cases["b_panics.console"].message.startswith("panic")
    assert cases["b_panics.#2"].message == "not reached: the guest stopped while b_panics ran"
    assert cases["c_never"].message == "never ran: the guest stopped first"
    assert not any(n.startswith("#") or n.startswith("3.") for n in cases)  # no phantom program


def test_a_qemu_killed_from_outside_is_infrastructure_not_a_test_crash() -> None:
    boot = next(c for c in judge("killed_from_outside") if c.name == "boot")
    assert boot.status is Status.INFRA and "killed from outside" in boot.message


def test_programs_that_print_no_result_are_never_a_pass() -> None:
    cases = {c.name: c.status for c in judge("garbage")}
    assert cases["b_silent.ktap"] is Status.CRASH and "b_silent" not in cases
    assert cases["a_garbage.ktap"] is Status.CRASH


def test_a_hostile_megabyte_ktap_line_parses_in_well_under_a_second() -> None:
    for line in (
        "ok 1 a" + " " * 1_000_000 + "b",
        "# Subtest: x" + " " * 1_000_000 + "y",
        "not ok 1 " + "\\ " * 500_000,
    ):
        started = time.monotonic()
        ktap.parse(f"KTAP version 1\n1..1\n{line}\n")
        assert time.monotonic() - started < 0.5


def synthetic(
    ktap_text: str, console: str, *, finished: bool, planned: tuple[str, ...] = ("prog",)
) -> dict[str, TestResult]:
    booted = Booted(0 if finished else 255, 1.0, False, finished, ktap_text, Path("console.log"))
    return {c.name: c for c in verdict.judge(booted, console, Kernel.BASE, planned, ())}


RUNNER = "KTAP version 1\n1..2\nok 1 runtime\n    # Subtest: prog\n{body}{result} 2 prog{directive}\n"


def test_a_bad_exit_of_a_program_whose_results_look_fine_is_its_own_failure() -> None:
    text = RUNNER.format(body="    1..1\n    ok 1 a\n# exit status 3 after 1.0 s\n", result="not ok", directive="")
    cases = synthetic(text, "Linux version 6.12\n", finished=True)
    assert cases["prog.a"].status is Status.PASS
    assert cases["prog.exit"].status is Status.FAIL and "exit status 3" in cases["prog.exit"].message


def test_an_empty_plan_is_a_program_saying_it_has_nothing_to_run_not_silence() -> None:
    text = RUNNER.format(body="    1..0 # SKIP no THP here\n", result="ok", directive="")
    assert "prog.ktap" not in synthetic(text, "Linux version 6.12\n", finished=True)


def test_a_guest_that_never_started_the_kernel_is_infrastructure() -> None:
    boot = synthetic("", "qemu-system-x86_64: cannot set up guest memory 'pc.ram'\n", finished=False)["boot"]
    assert boot.status is Status.INFRA and "did not start: qemu-system-x86_64: cannot set up" in boot.message


def test_a_guest_that_powered_off_before_the_runner_finished_is_a_crash() -> None:
    console = "Linux version 6.12\nzpfarm: begin prog\nreboot: Power down\n"
    boot = synthetic("KTAP version 1\n1..2\nok 1 runtime\n", console, finished=False)["boot"]
    assert boot.status is Status.CRASH and "powered off" in boot.message
