"""A JUnit file zpfarm wrote reads back into the suites it was written from."""

from __future__ import annotations

from pathlib import Path

import pytest
import runs

from farm.model.errors import UserError
from farm.report import readback


def test_suites_come_back_with_properties_statuses_messages_outputs_and_metrics(tmp_path: Path) -> None:
    written = runs.every_outcome()
    read = readback.suites(runs.write(tmp_path / "junit.xml", written))
    assert [s.name for s in read] == [s.name for s in written]
    for before, after in zip(written, read, strict=True):
        assert dict(after.properties) == dict(before.properties)
        assert after.timestamp == before.timestamp
        for a, b in zip(before.cases, after.cases, strict=True):
            assert (b.name, b.status, b.message, b.output.strip()) == (a.name, a.status, a.message, a.output.strip())
            assert dict(b.metrics) == dict(a.metrics)
            assert b.elapsed == a.elapsed


def test_a_file_that_is_not_junit_is_one_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "junit.xml"
    bad.write_text("<html>")
    with pytest.raises(UserError, match="not a readable JUnit file"):
        readback.suites(bad)
