"""The real stages (farm.stages.LocalStages) through `zpfarm run`, on tests/fakelinux booted by tests/fakevng.

Real: the tarball import, git am of the series, merge_config.sh -n + olddefconfig + the option check,
make with O=, ccache's environment and the build stamp, the guest runner (compiled from runner.c and
run on this host), the share directory, the KTAP it writes, the verdicts, the JUnit and the summary.
Fake: the kernel's Makefile (milliseconds, tests/fakelinux) and the VM (tests/fakevng/vng).
"""

from __future__ import annotations

from pathlib import Path

import junitparser
import kernels
import pytest
import xmlschema
from conftest import FakeFarm
from typer.testing import CliRunner

import cli

XSD = Path(__file__).parent / "data" / "junit-10.xsd"


def _cases(junit: Path) -> dict[str, dict[str, junitparser.TestCase]]:
    xmlschema.XMLSchema(XSD).validate(junit)
    return {s.name: {c.name: c for c in s} for s in junitparser.JUnitXml.fromfile(str(junit))}


def _status(case: junitparser.TestCase) -> str:
    return type(case.result[0]).__name__.lower() if case.result else "pass"


def test_run_builds_boots_and_judges_base_and_series(fakefarm: FakeFarm) -> None:
    junit = fakefarm.root / "out" / "junit.xml"
    result = fakefarm.zpfarm("run", "--results", fakefarm.root / "out", "--accel", "tcg", "--no-selftests", "--quiet")
    assert result.exit_code == 1, result.output  # the series' planted bug fails holes.read_hole
    suites = _cases(junit)
    assert set(suites) == {"base-x86_64-shmem/default", "series-x86_64-shmem/default"}
    base, series = suites["base-x86_64-shmem/default"], suites["series-x86_64-shmem/default"]
    assert {name: _status(c) for name, c in base.items()} == {
        "runtime": "pass",
        "holes.read_hole": "pass",
        "holes.write_hole": "pass",
    }
    assert _status(series["holes.read_hole"]) == "failure" and _status(series["holes.write_hole"]) == "pass"
    xml = junitparser.JUnitXml.fromfile(str(junit))
    props = {s.name: {p.name: p.value for p in s.properties()} for s in xml}
    assert props["base-x86_64-shmem/default"]["base"] == "v6.12.117"
    assert props["base-x86_64-shmem/default"]["base_line"] == "v6.12"
    assert props["series-x86_64-shmem/default"]["vng_version"].startswith("virtme-ng 1.42 (zpfarm's fake")
    summary = " ".join(result.output.split())
    assert "│ x86_64-shmem/default │ 3 pass │ 2 pass 1 fail │ series: holes.read_hole: not ok │" in summary
    assert "│ regression │ x86_64-shmem/default │ holes.read_hole │ pass │ fail │" in summary
    assert f"JUnit: {junit}" in result.output
    console = (fakefarm.root / "out" / "series-x86_64-shmem" / "default" / "console.log").read_text()
    assert "Linux version 6.12.117" in console and "reboot: Power down" in console


def test_a_second_run_on_the_next_point_release_imports_it_and_compare_says_the_base_moved(
    fakefarm: FakeFarm,
) -> None:
    first, second = fakefarm.root / "first", fakefarm.root / "second"
    args = ("--accel", "tcg", "--no-selftests", "--quiet", "--cell", "base-*")
    assert fakefarm.zpfarm("run", "--results", first, *args).exit_code == 0
    kernels.fakelinux_tarball(fakefarm.tarball, "6.12.118")  # Debian moved its package
    again = fakefarm.zpfarm("run", "--results", second, *args)
    assert again.exit_code == 0, again.output
    (suite,) = junitparser.JUnitXml.fromfile(str(second / "junit.xml"))
    assert {p.name: p.value for p in suite.properties()}["base"] == "v6.12.118"
    assert (fakefarm.cache / "source" / "linux-6.12.117").is_dir()  # N stays beside N+1
    compared = CliRunner().invoke(cli.app, ["compare", str(first / "junit.xml"), str(second / "junit.xml")])
    assert compared.exit_code == 0, compared.output
    assert compared.output.splitlines()[0].startswith("base moved: v6.12.117 -> v6.12.118")


def test_an_unchanged_cell_is_not_rebuilt(fakefarm: FakeFarm) -> None:
    args = ("--accel", "tcg", "--no-selftests", "--quiet", "--cell", "base-*")
    assert fakefarm.zpfarm("run", "--results", fakefarm.root / "a", *args).exit_code == 0
    assert fakefarm.zpfarm("run", "--results", fakefarm.root / "b", *args).exit_code == 0
    assert "CC      mm/shmem.o" in (fakefarm.root / "a" / "base-x86_64-shmem" / "build.log").read_text()
    assert (fakefarm.root / "b" / "base-x86_64-shmem" / "build.log").read_text().startswith("up to date: ")


def test_a_compile_error_fails_the_build_case_and_boots_nothing(
    fakefarm: FakeFarm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAIL", "mm/gup.c")
    out = fakefarm.root / "out"
    result = fakefarm.zpfarm("run", "--results", out, "--accel", "tcg", "--no-selftests", "--quiet", "-c", "base-*")
    assert result.exit_code == 1, result.output
    ((name, case),) = _cases(out / "junit.xml")["base-x86_64-shmem/default"].items()
    assert name == "build" and case.result[0].type == "build"
    assert "mm/gup.c:1:1: error: failing as asked" in case.result[0].message
    assert not (out / "base-x86_64-shmem" / "default" / "console.log").exists()


def test_a_compiler_warning_is_counted_in_the_suite(fakefarm: FakeFarm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARN", "1")
    out = fakefarm.root / "out"
    result = fakefarm.zpfarm("run", "--results", out, "--accel", "tcg", "--no-selftests", "--quiet", "-c", "base-*")
    assert result.exit_code == 0, result.output
    (suite,) = junitparser.JUnitXml.fromfile(str(out / "junit.xml"))
    props = {p.name: p.value for p in suite.properties()}
    assert int(props["build_warnings"]) == 4  # mm/memory.o, shmem.o, gup.o, ksm.o


def test_run_on_a_users_git_tree_builds_its_ref_and_leaves_the_checkout_alone(fakefarm: FakeFarm) -> None:
    tree = kernels.fakelinux_repo(fakefarm.root / "linux", "6.12.120")
    head = kernels.git(tree, "rev-parse", "HEAD")
    (tree / "mm" / "shmem.c").write_text("uncommitted work\n")
    out = fakefarm.root / "out"
    args = ("--kernel-tree", tree, "--base", "v6.12.120", "--accel", "tcg", "--no-selftests", "--quiet")
    result = fakefarm.zpfarm("run", "--results", out, *args)
    assert result.exit_code == 1, result.output  # the series' planted bug, as on the tarball
    suites = _cases(out / "junit.xml")
    assert _status(suites["base-x86_64-shmem/default"]["holes.read_hole"]) == "pass"
    assert _status(suites["series-x86_64-shmem/default"]["holes.read_hole"]) == "failure"
    assert kernels.git(tree, "rev-parse", "HEAD") == head
    assert (tree / "mm" / "shmem.c").read_text() == "uncommitted work\n"
    assert "Linux version 6.12.120" in (out / "base-x86_64-shmem" / "default" / "console.log").read_text()
