"""The run history answering the verdicts (farm.report.history.earlier), on real SQLite files."""

from __future__ import annotations

from pathlib import Path

from history_data import suite

from farm.judge import triage
from farm.judge.triage import Verdict
from farm.model.results import Status, Suite
from farm.report.history import History, RunMeta, earlier

TEST = "coherence.read_then_remote_write[memfd,shared]"
CELL = "series-x86_64-thp-on"


def _record(path: Path, *suites: Suite) -> None:
    with History.open(path) as h:
        for s in suites:
            h.record([s], RunMeta("run"))


def _verdicts(at: earlier.Mark | None, now: Suite) -> dict[str, Verdict]:
    answers = earlier.answers(at, [now])
    return {j.result.name: j.verdict for j in triage.of_suites([now], answers)}


def test_a_failure_after_a_pass_on_the_same_cell_and_base_line_is_a_regression(tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    _record(history, suite(1, [(TEST, Status.PASS)]))
    now = suite(2, [(TEST, Status.FAIL)])
    assert _verdicts(earlier.mark(history), now) == {TEST: Verdict.REGRESSION}
    other_line = suite(2, [(TEST, Status.FAIL)], base="v6.12.117")  # passed on v7.3 only
    assert _verdicts(earlier.mark(history), other_line) == {TEST: Verdict.NEW_FAILURE}
    other_cell = suite(2, [(TEST, Status.FAIL)], cell="series-x86_64-thp-off")
    assert _verdicts(earlier.mark(history), other_cell) == {TEST: Verdict.NEW_FAILURE}


def test_runs_recorded_after_the_mark_never_count_the_run_itself_included(tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    _record(history, suite(1, [(TEST, Status.FAIL)]))
    at = earlier.mark(history)
    assert at == earlier.Mark(history, 1)
    now = suite(2, [(TEST, Status.PASS)])
    _record(history, now, suite(3, [(TEST, Status.PASS)]))  # this run, and another job's meanwhile
    assert _verdicts(at, now) == {}  # 1/1 failed before: a pass now is a pass, not a flake
    assert _verdicts(earlier.mark(history), now) == {TEST: Verdict.FLAKY}  # 1/3 once they are earlier


def test_a_cell_is_asked_exactly_never_as_a_glob(tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    _record(history, suite(1, [(TEST, Status.PASS)]))
    globbed = suite(2, [(TEST, Status.FAIL)], cell="series-x86_64-*")
    assert _verdicts(earlier.mark(history), globbed) == {TEST: Verdict.NEW_FAILURE}
    assert earlier.literal("a*b?[c]") == "a[*]b[?][[]c]"


def test_no_readable_history_is_no_history_and_failures_stay_failed(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    not_history = tmp_path / "other.sqlite"
    not_history.write_text("a text file\n")
    now = suite(1, [(TEST, Status.FAIL)])
    for path in (tmp_path / "missing.sqlite", damaged, not_history):
        assert earlier.mark(path) is None
        assert _verdicts(earlier.mark(path), now) == {TEST: Verdict.FAILED}
    assert not (tmp_path / "missing.sqlite").exists()  # asking never makes one
    empty = tmp_path / "empty.sqlite"
    History.open(empty).close()
    assert _verdicts(earlier.mark(empty), now) == {TEST: Verdict.NEW_FAILURE}


def test_a_history_that_breaks_after_the_mark_is_no_history(tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    _record(history, suite(1, [(TEST, Status.PASS)]))
    at = earlier.mark(history)
    for leftover in tmp_path.glob("h.sqlite*"):
        leftover.unlink()
    history.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    assert earlier.answers(at, [suite(2, [(TEST, Status.FAIL)])]) is None


def test_a_history_another_writer_holds_still_answers_at_once(tmp_path: Path) -> None:
    import sqlite3
    import time

    history = tmp_path / "h.sqlite"
    _record(history, suite(1, [(TEST, Status.PASS)]))
    writer = sqlite3.connect(history, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another job, mid-record
    try:
        began = time.monotonic()
        assert _verdicts(earlier.mark(history, timeout=5.0), suite(2, [(TEST, Status.FAIL)])) == {
            TEST: Verdict.REGRESSION
        }
        assert time.monotonic() - began < 2.0  # a reader of a WAL file never waits for the writer
    finally:
        writer.execute("ROLLBACK")
        writer.close()
