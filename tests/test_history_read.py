"""JUnit files into the history: the farm's own dialect read back, hostile files refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from history_data import suite

from farm.model.errors import UserError
from farm.model.results import Status, TestResult
from farm.report import junit
from farm.report.history import History, read

REAL = Path(__file__).parent / "data" / "junit" / "run-v7.3.xml"  # a real run, cut to 116 cases


def test_every_status_comes_back_as_the_farm_wrote_it(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    statuses = list(Status)
    s = suite(1, [(f"t.{st.value}", st) for st in statuses])
    metric = TestResult("bench.read", Status.PASS, output="# metric: faults_per_s=1.5e3\n# metric: bad=1.2.3")
    junit.write(path, [s, suite(2, [], runtime="bench").__class__(s.name + "x", (metric,), {}, "", s.timestamp, 0.0)])
    first, second = read.from_junit(path)
    assert [c.status for c in first.cases] == statuses
    assert first.properties["base_line"] == "v7.3" and first.started == "2026-12-01T01:00:00+00:00"
    assert second.cases[0].metrics == {"faults_per_s": 1500.0}


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"<testsuites><testsuite name='a'>", "not a whole XML file"),
        (b"\x00\x01binary", "not a whole XML file"),
        (b"<html/>", "not a JUnit file"),
        (b"<testsuites/>", "no <testsuite> in it"),
        (b"<testsuite name='s'><testcase name='" + b"x" * 5000 + b"'/></testsuite>", "has 5000 characters"),
        (b"<testsuite name='" + b"s" * 2000 + b"'/>", "has 2000 characters"),
        (b"<testsuite name='s'><testcase/></testsuite>", "a test of suite 's' without a name"),
        (b"<testsuite name='s' timestamp='yesterday'/>", "is not ISO 8601"),
        (b"<testsuite name='s'><testcase name='t' time='-1'/></testsuite>", "time='-1' is not seconds"),
        (b"<testsuite name='s'><testcase name='t' time='nan'/></testsuite>", "is not seconds"),
    ],
)
def test_a_hostile_junit_is_one_line_naming_the_file_and_records_nothing(
    tmp_path: Path, content: bytes, said: str
) -> None:
    good, bad = tmp_path / "good.xml", tmp_path / "bad.xml"
    junit.write(good, [suite(1, [("t", Status.PASS)])])
    bad.write_bytes(content)
    with History.open(tmp_path / "h.sqlite") as history:
        with pytest.raises(UserError, match=said) as caught:
            history.ingest([good, bad])
        assert str(bad) in str(caught.value) and "\n" not in str(caught.value)
        assert history.runs() == 0  # every file is checked before any is recorded


def test_a_huge_file_is_refused_before_it_is_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "junit.xml"
    junit.write(path, [suite(1, [("t", Status.PASS)])])
    monkeypatch.setattr(read, "MAX_BYTES", 100)
    with pytest.raises(UserError, match="more than the 100 a JUnit file may have"):
        read.from_junit(path)


def test_a_real_runs_junit_is_recorded_with_its_provenance(tmp_path: Path) -> None:
    with History.open(tmp_path / "h.sqlite") as history:
        (done,) = history.ingest([REAL])
        assert (done.suites, done.cases) == (2, 116)
        (o,) = history.outcomes("runtime", "series-*")
        assert (o.base, o.base_line, o.status) == ("v7.3.4", "v7.3", Status.PASS)
        assert o.series == o.series_hash[:12] and len(o.series_hash) == 64
