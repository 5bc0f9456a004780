"""Recording that never costs a command anything: a damaged or read-only history is one warning line."""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import os
import tempfile
from pathlib import Path

import pytest
from history_data import suite

from farm.model.results import Status
from farm.report.history import History, RunMeta, keep

TEST = "coherence.read_then_remote_write[memfd,shared]"


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"this is not sqlite at all, just some text" * 100, "not a zpfarm history, or damaged"),
        (b"SQLite format 3\x00" + b"\xff" * 4000, "not a zpfarm history, or damaged"),
    ],
)
def test_a_corrupt_history_is_one_warning_line_never_an_exception(tmp_path: Path, content: bytes, said: str) -> None:
    path = tmp_path / "h.sqlite"
    path.write_bytes(content)
    warning = keep(path, [suite(1, [(TEST, Status.PASS)])], RunMeta("run"))
    assert warning is not None and said in warning and "\n" not in warning
    assert path.read_bytes() == content  # never repaired over


def _keep_as_nobody(path: Path, said: multiprocessing.queues.Queue[str | None]) -> None:
    if os.geteuid() == 0:  # root writes read-only files: be somebody else
        os.setgid(65534)
        os.setuid(65534)
    said.put(keep(path, [suite(1, [(TEST, Status.PASS)])], RunMeta("run")))


def test_a_read_only_history_is_one_warning_line() -> None:
    with tempfile.TemporaryDirectory() as where:
        os.chmod(where, 0o755)
        path = Path(where) / "h.sqlite"
        History.open(path).close()
        path.chmod(0o444)
        context = multiprocessing.get_context("fork")
        said: multiprocessing.queues.Queue[str | None] = context.Queue()
        child = context.Process(target=_keep_as_nobody, args=(path, said))
        child.start()
        warning = said.get(timeout=30)
        child.join(30)
    assert warning is not None and "cannot write it" in warning and "\n" not in warning


def test_even_a_bug_in_the_history_is_a_warning_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(History, "record", broken)
    warning = keep(tmp_path / "h.sqlite", [suite(1, [(TEST, Status.PASS)])], RunMeta("run"))
    assert warning == f"history {tmp_path / 'h.sqlite'}: not recorded (ZeroDivisionError: a bug); the JUnit is complete"
