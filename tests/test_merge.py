"""farm.report.merge: per-job JUnit files into one report; lost, repeated and broken inputs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import junitparser
import pytest
import xmlschema

from farm.model.errors import UserError
from farm.model.results import Status
from farm.model.results import TestResult as Result  # not "Test*": pytest would try to collect it
from farm.report import compare, junit
from farm.report.merge import LOST_CASE, expected_suites, lost_message, merge, suite_times

DATA = Path(__file__).parent / "data"
WHEN = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(DATA / "junit-10.xsd"))


def _suite(kernel: str, runtime: str = "default", hole: Status = Status.PASS) -> junit.Suite:
    cases = (
        Result("memory.read_hole[memfd,shared]", hole, "", "# metric: shmem_delta_kb=12", {"shmem_delta_kb": 12}, 1.5),
        Result("coherence.rfc[memfd,shared]", Status.PASS, elapsed=0.25),
        Result("selftests.uffd", Status.CRASH, "no result"),
        Result("thp.collapse", Status.XFAIL, "known"),
    )
    props = {"arch": "x86_64", "kernel": kernel, "log": f"results/{kernel}/console.log"}
    return junit.Suite(f"{kernel}-x86_64-thp-on/{runtime}", cases, props, "console excerpt", WHEN, 10.0)


def _job(tmp_path: Path, name: str, *suites: junit.Suite) -> Path:
    path = tmp_path / f"junit-{name}.xml"
    junit.write(path, suites)
    return path


def test_merge_keeps_every_suite_and_property(tmp_path: Path, schema: xmlschema.XMLSchema) -> None:
    a = _job(tmp_path, "a", _suite("base"), _suite("base", "shmem-always"))
    b = _job(tmp_path, "b", _suite("series", hole=Status.FAIL))
    out = tmp_path / "merged" / "junit.xml"
    merged = merge([a, b], out, ["base-x86_64-thp-on/default", "series-x86_64-thp-on/default"], now=WHEN)
    assert merged.suites == (
        "base-x86_64-thp-on/default",
        "base-x86_64-thp-on/shmem-always",
        "series-x86_64-thp-on/default",
    )
    assert (merged.lost, merged.repeated) == ((), ())
    schema.validate(str(out))
    xml = junitparser.JUnitXml.fromfile(str(out))
    assert (xml.tests, xml.failures, xml.errors, xml.time) == (12, 1, 3, 30.0)
    root = ET.parse(out).getroot()
    assert root.get("name") == "zpfarm"
    series = root.find("testsuite[@name='series-x86_64-thp-on/default']")
    assert series is not None
    props = {p.get("name"): p.get("value") for p in series.iter("property")}
    assert props == {"arch": "x86_64", "kernel": "series", "log": "results/series/console.log"}
    assert [p.name for p in out.parent.iterdir()] == ["junit.xml"]  # written atomically, no temp left


def test_lost_job_is_an_error_suite_never_a_pass(tmp_path: Path, schema: xmlschema.XMLSchema) -> None:
    a = _job(tmp_path, "a", _suite("base"))
    out = tmp_path / "junit.xml"
    expected = ["base-x86_64-thp-on/default", "series-x86_64-thp-on/default"]
    merged = merge([a], out, expected, now=WHEN)
    assert merged.lost == ("series-x86_64-thp-on/default",)
    schema.validate(str(out))
    suites = {s.name: s for s in junitparser.JUnitXml.fromfile(str(out))}
    lost = suites["series-x86_64-thp-on/default"]
    assert (lost.tests, lost.errors, lost.failures) == (1, 1, 0)
    (case,) = list(lost)
    assert (case.classname, case.name) == ("series-x86_64-thp-on/default", LOST_CASE)
    (error,) = case.result
    assert isinstance(error, junitparser.Error)
    assert error.message == lost_message("series-x86_64-thp-on/default")
    assert error.message == "job lost: no JUnit for series-x86_64-thp-on/default"
    lost_cases = [c for c in compare.from_junit(out) if c.name == LOST_CASE]
    assert [c.suite for c in lost_cases] == ["series-x86_64-thp-on/default"]
    assert lost_cases[0].status.is_error and lost_cases[0].status not in compare.GOOD


def test_same_suite_twice_identical_is_kept_once(tmp_path: Path) -> None:
    a = _job(tmp_path, "a", _suite("base"))
    again = tmp_path / "again.xml"
    again.write_bytes(a.read_bytes())
    merged = merge([a, again], tmp_path / "junit.xml")
    assert merged.suites == ("base-x86_64-thp-on/default",)
    assert merged.repeated == ("base-x86_64-thp-on/default",)
    assert len(list(junitparser.JUnitXml.fromfile(str(tmp_path / "junit.xml")))) == 1


def test_same_suite_twice_different_is_an_error_naming_it(tmp_path: Path) -> None:
    a = _job(tmp_path, "a", _suite("base"))
    b = _job(tmp_path, "b", _suite("base", hole=Status.FAIL))
    out = tmp_path / "junit.xml"
    with pytest.raises(UserError, match=r"suite 'base-x86_64-thp-on/default' differs between .*junit-a.xml and"):
        merge([a, b], out)
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "truncated"),  # the first half of a real file
        (b"", "truncated"),
        (b"\x00\x01 binary garbage", "not a whole XML file"),
        (b"<html><body>502 Bad Gateway</body></html>", r"not a JUnit file \(root element <html>"),
        (b"<testsuites><testsuite tests='1' failures='0' errors='0'/></testsuites>", "without a name"),
        (b"<testsuite name='a' tests='x' failures='0' errors='0'/>", "tests='x' is not a number"),
    ],
)
def test_broken_input_is_one_line_naming_the_file(tmp_path: Path, content: bytes | None, message: str) -> None:
    good = _job(tmp_path, "good", _suite("base"))
    bad = tmp_path / "junit-bad.xml"
    bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2] if content is None else content)
    with pytest.raises(UserError, match=message) as caught:
        merge([good, bad], tmp_path / "junit.xml")
    text = str(caught.value)
    assert "\n" not in text
    if "number" not in message:
        assert str(bad) in text


def test_missing_input_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such JUnit file"):
        merge([tmp_path / "nope.xml"], tmp_path / "junit.xml")


def test_merged_files_give_the_same_verdict_as_one_run(tmp_path: Path) -> None:
    base = _suite("base", hole=Status.XFAIL)
    series = _suite("series", hole=Status.FAIL)
    single = _job(tmp_path, "single", base, series)
    out = tmp_path / "merged.xml"
    merge([_job(tmp_path, "base", base), _job(tmp_path, "series", series)], out)
    one = compare.diff(*compare.split_kernels(compare.from_junit(single)))
    two = compare.diff(*compare.split_kernels(compare.from_junit(out)))
    assert one == two
    assert [c.kind for c in two] == [compare.Kind.REGRESSION]  # xfail -> fail: the comparison has teeth
    assert sorted(compare.from_junit(single), key=repr) == sorted(compare.from_junit(out), key=repr)


def test_expected_suites_from_a_plan(tmp_path: Path) -> None:
    rows = [{"suite": "base-x86_64-thp-on/default", "cell": "base-x86_64-thp-on"}, {"suite": "b/x"}]
    whole = tmp_path / "plan.json"
    whole.write_text(json.dumps({"build": {"include": []}, "test": {"include": rows}}))
    stage = tmp_path / "test.json"
    stage.write_text(json.dumps({"include": rows}))
    assert expected_suites(whole) == expected_suites(stage) == ("base-x86_64-thp-on/default", "b/x")
    stage.write_text('{"include": [{"cell": 1}]}')
    with pytest.raises(UserError, match="not a zpfarm plan"):
        expected_suites(stage)
    stage.write_text('{"include": [')
    with pytest.raises(UserError, match="not a JSON plan"):
        expected_suites(stage)


def test_suite_times_of_an_earlier_run_or_nothing(tmp_path: Path) -> None:
    good = tmp_path / "junit.xml"
    good.write_text('<testsuites><testsuite name="a/default" tests="0" time="12.5"/></testsuites>\n')
    assert suite_times(good) == {"a/default": 12.5}
    (tmp_path / "cut.xml").write_text(good.read_text()[:30])
    for unusable in (tmp_path / "cut.xml", tmp_path / "missing.xml", tmp_path):
        assert suite_times(unusable) == {}  # the pool then keeps matrix order


def test_suites_of_one_line_on_two_point_releases_are_named_first(tmp_path: Path) -> None:
    def on(base: str, kernel: str) -> junit.Suite:
        suite = _suite(kernel)
        return junit.Suite(suite.name, suite.cases, {"base": base, "base_line": "v6.12"}, "", WHEN, 1.0)

    a = _job(tmp_path, "a", on("v6.12.117", "base"))
    b = _job(tmp_path, "b", on("v6.12.118", "series"))
    merged = merge([a, b], tmp_path / "m.xml")
    assert merged.notes == ("mixed bases: v6.12.117, v6.12.118 (line v6.12) in one merged file",)
    assert merge([a], tmp_path / "one.xml").notes == ()


def test_a_sweep_junit_merges_beside_the_tests_and_a_lost_sweep_is_an_error(
    tmp_path: Path, schema: xmlschema.XMLSchema
) -> None:
    """A sweep job's JUnit (one suite per toolchain, as `zpfarm sweep` writes it) is one more job's file."""
    rows = [{"toolchain": "x86_64-gcc", "suites": ["x86_64-gcc/sweep"]}, {"suites": ["arm64-clang/sweep"]}]
    plan = tmp_path / "plan.json"
    tests = {"include": [{"suite": "base-x86_64-thp-on/default"}]}
    plan.write_text(json.dumps({"build": {"include": []}, "test": tests, "sweep": {"include": rows}}))
    expected = expected_suites(plan)
    assert expected == ("base-x86_64-thp-on/default", "x86_64-gcc/sweep", "arm64-clang/sweep")
    broken = Result("0006 mm: use is_ksm_zero_pte() [allnoconfig]", Status.FAIL, "mm/memory.o does not build")
    cases = (Result("0001 mm: add is_file_zeropage_pte() [allnoconfig]", Status.PASS), broken)
    props = {"arch": "x86_64", "compiler": "gcc", "base": "v7.3", "series": "0" * 40}
    sweep = _job(tmp_path, "sweep-x86_64-gcc", junit.Suite("x86_64-gcc/sweep", cases, props, "", WHEN, 60.0))
    merged = merge([_job(tmp_path, "test", _suite("base")), sweep], tmp_path / "junit.xml", expected, now=WHEN)
    assert merged.suites == expected and merged.lost == ("arm64-clang/sweep",)
    schema.validate(str(tmp_path / "junit.xml"))
    suites = {s.get("name"): s for s in ET.parse(tmp_path / "junit.xml").getroot().iter("testsuite")}
    assert (suites["x86_64-gcc/sweep"].get("failures"), suites["arm64-clang/sweep"].get("errors")) == ("1", "1")
    assert compare.split_kernels(compare.from_junit(tmp_path / "junit.xml"))[0]  # compare reads past the sweep
    plan.write_text(json.dumps({"include": rows}))  # the sweep stage alone
    assert expected_suites(plan) == ("x86_64-gcc/sweep", "arm64-clang/sweep")
    plan.write_text(json.dumps({"include": [{"toolchain": "x86_64-gcc", "suites": []}]}))
    with pytest.raises(UserError, match="neither a 'suite' nor 'suites'"):
        expected_suites(plan)
