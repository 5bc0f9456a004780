"""`zpfarm history` and the commands that record into the history: what a person sees, what a CI job keeps."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeFarm
from history_data import sequence, suite
from typer.testing import CliRunner

import cli
from cli import app
from farm.commands import common
from farm.model.results import Report, Status
from farm.report import junit
from farm.report.history import History, RunMeta

runner = CliRunner()
TEST = "coherence.read_then_remote_write[memfd,shared]"
ZPFARM = Path(sys.executable).parent / "zpfarm"


def _ingest(tmp_path: Path, letters: str, **kw: Any) -> Path:
    history = tmp_path / "h.sqlite"
    paths = sequence(tmp_path, TEST, letters, **kw)
    done = runner.invoke(app, ["history", "ingest", *map(str, paths), "--history", str(history)])
    assert done.exit_code == 0, done.output
    assert f"{len(letters)} runs in {history}" in done.stdout
    return history


def test_history_of_a_flaky_test_says_flaky_with_its_rate_and_interval(tmp_path: Path) -> None:
    history = _ingest(tmp_path, "PFPPFPPPFP")
    done = runner.invoke(app, ["history", TEST, "--history", str(history)], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert "flaky, 3/10 (Wilson 95% 10.8%-60.3%)" in done.stdout
    assert "last 10: PFPPFPPPFP (runs 1-10;" in done.stdout
    flaky = runner.invoke(app, ["history", "flaky", "--history", str(history)], env={"COLUMNS": "200"})
    assert flaky.exit_code == 0 and TEST in flaky.stdout and "10.8%-60.3%" in flaky.stdout
    as_json = runner.invoke(app, ["history", "flaky", "--json", "--history", str(history)])
    (listed,) = json.loads(as_json.stdout)
    assert (listed["test"], listed["flips"], listed["said"]) == (TEST, 6, "3/10 (Wilson 95% 10.8%-60.3%)")


def test_history_of_a_broken_test_names_the_run_and_series_that_broke_it(tmp_path: Path) -> None:
    history = _ingest(tmp_path, "PPPFFFFFFF", series=["v3"] * 3 + ["v4"] * 7)
    done = runner.invoke(app, ["history", "show", TEST, "-c", "series-*", "--history", str(history)])
    assert done.exit_code == 0, done.output
    assert "regression since run 4 (series v4 (fa6249c01a34), v7.3.4" in done.stdout
    assert "streak: failed in the last 7 runs" in done.stdout
    assert "fail rate: 7/10 (Wilson 95% 39.7%-89.2%)" in done.stdout
    nothing = runner.invoke(app, ["history", "flaky", "--history", str(history)])
    assert "no flaky test in the last 10 of 10 runs" in nothing.stdout


def test_an_unknown_test_or_a_missing_history_is_one_error_line_exit_2(tmp_path: Path) -> None:
    history = _ingest(tmp_path, "PP")
    done = runner.invoke(app, ["history", "coherence.read", "--history", str(history)], env={"COLUMNS": "300"})
    assert done.exit_code == 2 and done.stderr.count("error: ") == 1, done.output
    assert f"tests named like it: {TEST}" in done.stderr
    none = runner.invoke(app, ["history", "flaky", "--history", str(tmp_path / "no.sqlite")])
    assert none.exit_code == 2 and "no such file" in none.stderr and not (tmp_path / "no.sqlite").exists()


def test_history_of_one_base_and_as_json(tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    for base, letters in (("v7.3.4", "PPF"), ("v6.12.118", "FF")):
        paths = sequence(tmp_path / base, TEST, letters, base=base)
        runner.invoke(app, ["history", "ingest", *map(str, paths), "--history", str(history)])
    done = runner.invoke(app, ["history", TEST, "--base", "v6.12", "--json", "--history", str(history)])
    assert done.exit_code == 0, done.output
    (summary,) = json.loads(done.stdout)
    assert [o["base"] for o in summary["outcomes"]] == ["v6.12.118"] * 2 and summary["trend"] == "failing"
    assert summary["said"].startswith("failing, never passed here: 2/2 runs failed since run 4")
    none = runner.invoke(app, ["history", TEST, "--base", "v5.15", "--history", str(history)])
    assert none.exit_code == 2 and "for --cell '*' on base v5.15 (it ran elsewhere)" in none.stderr


def test_ingest_of_a_hostile_junit_is_one_error_line_and_records_nothing(tmp_path: Path) -> None:
    (good,) = sequence(tmp_path, TEST, "P")
    bad = tmp_path / "bad.xml"
    bad.write_text("<testsuite name='s'><testcase name='" + "x" * 100_000 + "'/></testsuite>")
    history = tmp_path / "h.sqlite"
    done = runner.invoke(app, ["history", "ingest", str(good), str(bad), "--history", str(history)])
    assert done.exit_code == 2 and done.stderr.count("error: ") == 1 and "has 100000 characters" in done.stderr
    with History.open(history) as found:
        assert found.runs() == 0


def test_merge_records_the_merged_run_in_the_history_from_the_environment(tmp_path: Path) -> None:
    (one,) = sequence(tmp_path, TEST, "F")
    history = tmp_path / "ci" / "history.sqlite"
    merged = tmp_path / "junit.xml"
    done = runner.invoke(app, ["merge", str(one), "-o", str(merged)], env={"ZPFARM_HISTORY": str(history)})
    assert done.exit_code == 0, done.output
    with History.open(history) as found:
        (o,) = found.outcomes(TEST)
        assert o.status is Status.FAIL
        assert found.db.execute("SELECT command, source FROM runs").fetchone() == ("merge", str(merged))


def test_a_corrupt_history_costs_a_merge_neither_its_junit_nor_its_exit_code(tmp_path: Path) -> None:
    (one,) = sequence(tmp_path, TEST, "F")
    history = tmp_path / "history.sqlite"
    history.write_bytes(b"SQLite format 3\x00" + b"\x13" * 5000)
    done = runner.invoke(app, ["merge", str(one), "-o", str(tmp_path / "junit.xml"), "--history", str(history)])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "junit.xml").is_file()
    (warning,) = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    assert f"history {history}: not a zpfarm history, or damaged" in warning and "the JUnit is complete" in warning


def test_a_read_only_history_costs_a_merge_neither_its_junit_nor_its_exit_code() -> None:
    """The real command as another user (root writes read-only files). A locked history waits its busy
    timeout, then warns the same way (tests/test_history_store.py)."""
    with tempfile.TemporaryDirectory() as tmp:  # somebody else than root must be able to write the JUnit here
        tmp_path = Path(tmp)
        tmp_path.chmod(0o777)
        (one,) = sequence(tmp_path, TEST, "F")
        where = tmp_path / "hist"
        where.mkdir()
        history = where / "history.sqlite"
        argv: list[str | Path] = [ZPFARM, "merge", one, "-o", tmp_path / "junit.xml", "--history", history]
        History.open(history).close()
        for f in [where, *where.iterdir()]:
            f.chmod(0o555 if f.is_dir() else 0o444)
        if os.geteuid() == 0:  # root writes anything: be nobody
            argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"}, timeout=120)
        where.chmod(0o755)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "junit.xml").is_file()
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and str(history) in warnings[0], done.stderr
    assert "cannot write it" in warnings[0] and "the JUnit is complete" in warnings[0]


def test_a_job_records_its_suites_and_keeps_its_exit_code_when_the_history_cannot_take_them(tmp_path: Path) -> None:
    report = Report()
    good, broken = tmp_path / "good.sqlite", tmp_path / "broken.sqlite"
    broken.write_text("not a database at all" * 200)
    for history in (good, broken):
        with common.err.capture() as said, common.job(tmp_path / "j.xml", report, common.Recording(history, "run")):
            report.suites[:] = [suite(1, [(TEST, Status.FAIL)])]
            junit.write(tmp_path / "j.xml", report.suites)
        assert cli.exit_code(report) == 1
        assert ("warning: " in said.get()) is (history == broken)
    with History.open(good) as found:
        assert [o.letter for o in found.outcomes(TEST)] == ["F"]


def test_an_interrupted_job_records_the_suites_that_finished(tmp_path: Path) -> None:
    report = Report()
    history = tmp_path / "h.sqlite"
    with pytest.raises(KeyboardInterrupt), common.job(tmp_path / "j.xml", report, common.Recording(history, "run")):
        report.suites.append(suite(1, [(TEST, Status.PASS)]))
        raise KeyboardInterrupt
    with History.open(history) as found:
        assert found.runs() == 1


def test_the_default_history_is_beside_the_results_directory() -> None:
    assert common.recording(None, Path("results/latest"), "run").history == Path("results/history.sqlite")
    assert common.recording(None, Path("/tmp/r1"), "test").history == Path("/tmp/history.sqlite")
    assert common.recording(None, None, "merge").history == Path("results/history.sqlite")
    assert common.recording(Path("h.sqlite"), Path("results/latest"), "run").history == Path("h.sqlite")


def test_host_test_records_its_suite_as_host_test_on_its_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from farm import hosttest
    from farm.model.results import TestResult

    def ran(*args: object, **kwargs: object) -> list[TestResult]:
        return [TestResult("memory.read_hole", Status.FAIL, "allocated"), TestResult("memory.steady", Status.PASS)]

    monkeypatch.setattr(hosttest, "run", ran)
    history = tmp_path / "h.sqlite"
    argv = ["host-test", "-t", "memory", "--results", str(tmp_path / "r"), "--cache", str(tmp_path / "c")]
    done = runner.invoke(app, [*argv, "--history", str(history)])
    assert done.exit_code == 1, done.output  # the failure's exit code, whatever the history did
    with History.open(history) as found:
        (o,) = found.outcomes("memory.read_hole", "host-test")
        assert o.status is Status.FAIL and o.runtime == platform.node()
        assert found.db.execute("SELECT command FROM runs").fetchone() == ("host-test",)


# The fake farm's series kernel holds the bug testcases/holes.py finds: holes.read_hole fails in
# every attempt, holes.write_hole passes (tests/conftest.py).
FAKE_SUITE, FAKE_BASE = "series-x86_64-shmem/default", "v6.12.117"
FAKE_RUN = ("run", "--cell", "series-*", "--no-selftests", "--accel", "tcg", "--quiet")
READ, WRITE = "holes.read_hole", "holes.write_hole"


def _earlier(history: Path, *runs: tuple[Status, Status]) -> None:
    """Runs of the fake farm's series suite (read_hole, write_hole), recorded as earlier runs would be."""
    with History.open(history) as h:
        for n, (read, write) in enumerate(runs, 1):
            cell = FAKE_SUITE.split("/")[0]
            h.record([suite(n, [(READ, read), (WRITE, write)], cell=cell, base=FAKE_BASE)], RunMeta("run"))


def test_a_failure_after_passes_is_a_regression_and_a_pass_after_passes_and_failures_flaky(
    fakefarm: FakeFarm,
) -> None:
    history = fakefarm.root / "h.sqlite"
    _earlier(history, (Status.PASS, Status.PASS), (Status.PASS, Status.FAIL), (Status.PASS, Status.PASS))
    result = fakefarm.zpfarm(*FAKE_RUN, "--results", fakefarm.root / "r", "--history", history)
    assert result.exit_code == 1, result.output
    assert f"regression: 1\n  {FAKE_SUITE}: {READ}\n" in result.stdout
    assert f"flaky: 1\n  {FAKE_SUITE}: {WRITE}\n" in result.stdout
    assert "new failure" not in result.stdout
    with History.open(history, create=False) as h:
        assert h.runs() == 4  # and the run itself was recorded


def test_a_failure_no_earlier_run_passed_is_a_new_failure_never_judged_by_its_own_run(fakefarm: FakeFarm) -> None:
    history = fakefarm.root / "h.sqlite"
    _earlier(history, (Status.FAIL, Status.FAIL))  # write_hole: failed once, passes now: 1/1 is not flaky
    result = fakefarm.zpfarm(*FAKE_RUN, "--results", fakefarm.root / "r", "--history", history)
    assert result.exit_code == 1, result.output
    assert f"new failure: 1\n  {FAKE_SUITE}: {READ}\n" in result.stdout
    assert "flaky" not in result.stdout and "regression" not in result.stdout
    again = fakefarm.zpfarm(*FAKE_RUN, "--results", fakefarm.root / "r", "--history", history)
    assert f"new failure: 1\n  {FAKE_SUITE}: {READ}\n" in again.stdout
    assert f"flaky: 1\n  {FAKE_SUITE}: {WRITE}\n" in again.stdout  # F then the first run's P


def test_an_empty_history_says_new_failure_and_a_damaged_one_failed_with_one_warning(fakefarm: FakeFarm) -> None:
    empty = fakefarm.root / "empty.sqlite"
    History.open(empty).close()
    result = fakefarm.zpfarm(*FAKE_RUN, "--results", fakefarm.root / "r", "--history", empty)
    assert f"new failure: 1\n  {FAKE_SUITE}: {READ}\n" in result.stdout
    damaged = fakefarm.root / "damaged.sqlite"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    result = fakefarm.zpfarm(*FAKE_RUN, "--results", fakefarm.root / "r2", "--history", damaged)
    assert result.exit_code == 1 and (fakefarm.root / "r2" / "junit.xml").is_file()
    assert f"failed: 1\n  {FAKE_SUITE}: {READ}\n" in result.stdout
    assert result.stderr.count("warning:") == 1 and "error" not in result.stderr, result.stderr


def test_merge_judges_the_merged_suites_by_the_history_then_records_them(tmp_path: Path) -> None:
    history = _ingest(tmp_path, "PPP")
    job = tmp_path / "job" / "junit.xml"
    junit.write(job, [suite(4, [(TEST, Status.FAIL), ("memory.steady", Status.PASS)])])
    args = ["merge", str(job), "-o", str(tmp_path / "merged.xml"), "--history", str(history)]
    done = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert f"regression: 1\n  series-x86_64-thp-on/default: {TEST}\n" in done.stdout
    with History.open(history, create=False) as h:
        assert h.runs() == 4
