"""The CLI's promises without a VM: one-line errors, exit codes, JSON, valid JUnit."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import junitparser
import pytest
from typer.testing import CliRunner

import cli
from cli import app
from farm import ui
from farm.commands import common
from farm.model.results import Report, Status, TestResult
from farm.report import junit

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def test_matrix_json_lists_every_cell() -> None:
    result = runner.invoke(app, ["matrix", "--matrix", str(ROOT / "matrix.toml"), "--json"])
    assert result.exit_code == 0, result.output
    cells = {row["cell"]: row for row in json.loads(result.stdout)}
    assert cells["series-arm64-thp-off"]["runtimes"] == ["default"]
    assert "shmem-always" in cells["base-x86_64-thp-on"]["runtimes"]
    assert not cells["base-x86_64-thp-on"]["build_only"]


def test_matrix_shows_build_only_cells_as_such() -> None:
    result = runner.invoke(app, ["matrix", "--matrix", str(ROOT / "matrix-s390.toml"), "--json"])
    assert result.exit_code == 0, result.output
    assert {(row["arch"], row["build_only"], len(row["runtimes"])) for row in json.loads(result.stdout)} == {
        ("s390", True, 0)
    }
    table = runner.invoke(app, ["matrix", "--matrix", str(ROOT / "matrix-s390.toml")], env={"COLUMNS": "200"})
    assert "none (build only)" in table.output and "0 boots" in table.output


def test_unknown_cell_is_exit_2_with_the_cell_list() -> None:
    result = runner.invoke(app, ["matrix", "--matrix", str(ROOT / "matrix.toml"), "--cell", "nope"])
    assert result.exit_code == 2
    assert "matches no cell" in result.output and "base-x86_64-thp-on" in result.output


def test_malformed_matrix_is_one_line_exit_2_and_valid_junit(tmp_path: Path) -> None:
    bad = tmp_path / "matrix.toml"
    bad.write_text("[axes\nkernel = 1\n")
    result = runner.invoke(app, ["run", "--matrix", str(bad), "--results", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 2, result.output
    assert "not valid TOML" in result.output
    assert "Traceback" not in result.output
    xml = junitparser.JUnitXml.fromfile(str(tmp_path / "out" / "junit.xml"))
    (suite,) = list(xml)
    assert suite.errors == 1


def _junit(path: Path, statuses: dict[str, Status], metric: float, base: str = "v7.3.4") -> Path:
    now = datetime.now(UTC)
    suites = []
    for kernel, status in statuses.items():
        cases = (
            TestResult("memory.read_hole[memfd,shared]", status, "", f"# metric: shmem_delta_kb={metric}"),
            TestResult("coherence.rfc[memfd,shared]", Status.PASS),
        )
        suites.append(junit.Suite(f"{kernel}-x86_64-thp-off/default", cases, {"base": base}, "", now, 1.0))
    junit.write(path, suites)
    return path


def test_compare_base_vs_series_shows_the_fix_and_exits_0(tmp_path: Path) -> None:
    path = _junit(tmp_path / "j.xml", {"base": Status.XFAIL, "series": Status.PASS}, 65536)
    result = runner.invoke(app, ["compare", str(path), "--format", "md"])
    assert result.exit_code == 0, result.output
    assert "| fix | x86_64-thp-off/default | `memory.read_hole[memfd,shared]` |" in result.stdout


def test_compare_two_runs_flags_a_regression_with_exit_1(tmp_path: Path) -> None:
    a = _junit(tmp_path / "a.xml", {"series": Status.PASS}, 0)
    b = _junit(tmp_path / "b.xml", {"series": Status.FAIL}, 65536)
    result = runner.invoke(app, ["compare", str(a), str(b)])
    assert result.exit_code == 1, result.output
    assert "regression" in result.output


def test_compare_of_two_runs_on_different_point_releases_says_so_first(tmp_path: Path) -> None:
    a = _junit(tmp_path / "a.xml", {"series": Status.PASS}, 0, base="v6.12.117")
    b = _junit(tmp_path / "b.xml", {"series": Status.PASS}, 0, base="v6.12.118")
    for fmt in ("table", "md"):
        result = runner.invoke(app, ["compare", str(a), str(b), "--format", fmt])
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines()[0].strip("*") == "base moved: v6.12.117 -> v6.12.118"
    same = runner.invoke(app, ["compare", str(a), str(a)])
    assert "base moved" not in same.stdout


@pytest.mark.parametrize("other", ["other-suite", "empty"])
def test_compare_of_runs_with_no_suite_in_common_is_exit_2_not_no_differences(tmp_path: Path, other: str) -> None:
    a = _junit(tmp_path / "a.xml", {"series": Status.PASS}, 0)
    b = tmp_path / "b.xml"
    junit.write(
        b, [junit.Suite("series-arm64-thp-on/default", (), {}, "", datetime.now(UTC), 0.0)] * (other != "empty")
    )
    result = runner.invoke(app, ["compare", str(a), str(b)])
    assert result.exit_code == 2, result.output
    assert "no suite in common: nothing to compare" in result.output


def test_kernel_tree_that_is_not_git_is_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", "--kernel-tree", str(tmp_path), "--base", "v6.12", "--results", str(tmp_path / "out"), "-q"]
    )
    assert result.exit_code == 2, result.output
    assert "not a git checkout" in result.output


def test_kernel_tree_without_the_base_ref_is_exit_2_naming_it(tmp_path: Path) -> None:
    tree = tmp_path / "linux"
    tree.mkdir()
    subprocess.run(["git", "init", "-q", str(tree)], check=True)
    args = ["run", "--kernel-tree", str(tree), "--base", "v9.9", "--cache", str(tmp_path / "cache")]
    result = runner.invoke(app, [*args, "--results", str(tmp_path / "out"), "-q", "-c", "base-x86_64-thp-off"])
    assert result.exit_code == 2, result.output
    assert "no git ref 'v9.9'" in result.output
    assert "Traceback" not in result.output


def test_compare_table_shows_new_and_missing_tests_with_brackets_in_names(tmp_path: Path) -> None:
    """Kinds without a colour and names like [memfd,shared] or [/] must not be read as markup."""
    now = datetime.now(UTC)
    cases = {
        "base": (TestResult("zeropage.gone[memfd,shared]", Status.PASS), TestResult("odd[/]name", Status.PASS)),
        "series": (TestResult("zeropage.added[memfd,shared]", Status.PASS), TestResult("odd[/]name", Status.FAIL)),
    }
    suites = [junit.Suite(f"{k}-x86_64-thp-on/default", v, {}, "", now, 1.0) for k, v in cases.items()]
    junit.write(tmp_path / "j.xml", suites)
    result = runner.invoke(app, ["compare", str(tmp_path / "j.xml")])
    assert result.exit_code == 1, result.output
    assert "missing" in result.stdout and "new" in result.stdout and "odd[/]name" in result.stdout


def test_run_summary_counts_changes_per_suite_and_lists_only_regressions(tmp_path: Path) -> None:
    def suite(kernel: str, *cases: TestResult) -> junit.Suite:
        return junit.Suite(f"{kernel}-x86_64-thp-off/default", cases, {}, "", datetime.now(UTC), 1.0)

    report = Report(
        suites=[
            suite("base", TestResult("memory.read_hole", Status.XFAIL), TestResult("mremap.preamble", Status.PASS)),
            suite("series", TestResult("memory.read_hole", Status.PASS), TestResult("mremap.preamble", Status.FAIL)),
        ]
    )
    with cli.out.capture() as captured:
        ui.print_summary(cli.out, report, tmp_path / "junit.xml")
    text = captured.get()
    assert f"zpfarm compare {tmp_path / 'junit.xml'}" in text  # where the full list is
    counts = [line.split("│") for line in text.splitlines() if line.count("│") == 8]  # the counts table's rows
    assert [[c.strip() for c in row[1:-1]] for row in counts] == [["x86_64-thp-off/default", "1", "1", "", "", "", ""]]
    assert "mremap.preamble" in text  # the regression, by name
    assert "memory.read_hole" not in text  # a fix is only counted


ZPFARM = Path(sys.executable).parent / "zpfarm"


def zpfarm(*args: str | Path, cwd: Path | None = None, columns: int = 200) -> subprocess.CompletedProcess[str]:
    """The installed command, as a CI job or a user's shell calls it (main(): signals, usage errors)."""
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run([str(ZPFARM), *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def one_error_line(done: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """The command exited with code and printed exactly one error line holding words, no traceback."""
    assert done.returncode == code, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def test_a_bad_choice_is_one_unwrapped_line_exit_2_before_any_lock(tmp_path: Path) -> None:
    done = zpfarm("run", "--accel", "kmv", "--cache", tmp_path / "cache", "--results", tmp_path / "r", columns=40)
    one_error_line(done, 2, "'kmv' is not one of 'auto', 'kvm', 'tcg'", "zpfarm run --help")
    assert not (tmp_path / "cache").exists()


def test_a_test_name_that_selects_nothing_is_exit_2_before_any_lock(tmp_path: Path) -> None:
    for name in ("memroy", "selftests-mm-cwo"):
        done = zpfarm("run", "-t", name, "-c", "base-x86_64-thp-off", "--cache", tmp_path / "c", "--results", tmp_path)
        one_error_line(done, 2, f"--test {name!r}: selects no test program")
        assert not (tmp_path / "c" / "trees.lock").exists()


def test_an_early_error_never_overwrites_the_last_runs_junit(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text("<testsuites name='earlier'/>\n")
    done = zpfarm("run", "--cell", "nope", "--results", tmp_path)
    one_error_line(done, 2, "matches no cell", str(tmp_path / "junit.error.xml"))
    assert (tmp_path / "junit.xml").read_text() == "<testsuites name='earlier'/>\n"
    (suite,) = list(junitparser.JUnitXml.fromfile(str(tmp_path / "junit.error.xml")))
    assert suite.errors == 1


def test_jobs_sharing_a_cache_check_it_at_the_same_time(tmp_path: Path) -> None:
    """Two CI jobs on one machine start at once with the same --cache: neither may see the other's probe."""
    from concurrent.futures import ThreadPoolExecutor

    cache = tmp_path / "cache"
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: common.cache(cache), range(4000)))
    assert list(cache.iterdir()) == []  # the probes leave nothing behind


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["run", "--results", "{file}"], ["--results", "not a writable directory"]),
        (["run", "--junit", "{dir}", "-c", "base-x86_64-thp-off"], ["--junit", "is a directory"]),
        (["run", "--junit", "{file}/j.xml", "-c", "base-x86_64-thp-off"], ["--junit", "cannot write in"]),
        (["merge", "{series_only}", "-o", "{dir}"], ["--output", "is a directory"]),
        (["merge", "{series_only}", "-o", "{file}/m.xml"], ["--output", "cannot write in"]),
        (["run", "-t", "selftests-mm-cow", "--no-selftests"], ["with --no-selftests: nothing would run"]),
        (["run", "-t", "selftests-mm-xzeropagex"], ["'selftests-mm-xzeropagex': selects no test program"]),
        (["run", "--cache", "{file}", "-c", "base-x86_64-thp-off"], ["--cache", "not a writable directory"]),
        (["host-test", "--ssh", ""], ["--ssh ''", "expected [USER@]HOST[:PORT]"]),
        (["host-test", "--ssh", "host:99999"], ["port 99999 is not in 1..65535"]),
        (["bisect", "-c", "base-x86_64-thp-off", "-t", "memory", "--runs", "1", "--threshold", "2"], ["--threshold"]),
        (["matrix", "--cell", "[/]odd[bold]"], ["--cell '[/]odd[bold]' matches no cell"]),
        (["compare", "{xml}"], ["not a JUnit file (root element <html>"]),
        (["compare", "{series_only}"], ["no base suites to compare"]),
    ],
)
def test_hostile_input_is_one_line_exit_2(tmp_path: Path, args: list[str], words: list[str]) -> None:
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "not-junit.xml").write_text("<html><body/></html>")
    _junit(tmp_path / "series.xml", {"series": Status.PASS}, 0)
    where = {"file": tmp_path / "a-file", "dir": tmp_path, "xml": tmp_path / "not-junit.xml"}
    where["series_only"] = tmp_path / "series.xml"
    done = zpfarm(*(a.format(**where) for a in args), cwd=tmp_path)
    one_error_line(done, 2, *words)


def test_a_build_key_that_is_a_path_is_refused_before_any_directory_is_made(tmp_path: Path) -> None:
    done = zpfarm("build", "--key", "../../escaped", "--out", tmp_path / "x" / "dist", "--cache", tmp_path / "c")
    one_error_line(done, 2, "'../../escaped' is not a build key")
    assert not (tmp_path / "x").exists() and not (tmp_path / "escaped").exists()


def test_two_commands_on_one_results_directory_are_refused_not_clobbered(tmp_path: Path) -> None:
    """Two zpfarm test steps on the default results/test clobbered each other's share."""
    import fcntl

    (tmp_path / "r").mkdir()
    with (tmp_path / "r" / ".zpfarm-results.lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        done = zpfarm("run", "-c", "base-x86_64-thp-off", "-t", "memory", "--results", tmp_path / "r")
    one_error_line(done, 2, "another zpfarm command is writing there")


def test_debug_shows_the_traceback_and_keeps_the_exit_code() -> None:
    done = zpfarm("--debug", "matrix", "--cell", "nope")
    assert done.returncode == 2 and "Traceback" in done.stderr and "UserError" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("error: --cell 'nope' matches no cell")


def test_version_names_zpfarm_and_its_commit() -> None:
    done = zpfarm("--version")
    assert done.returncode == 0 and done.stdout.startswith("zpfarm 0.1.0 ("), done.stdout


def test_compare_markdown_fits_a_ci_comment_and_keeps_the_regressions() -> None:
    from farm.report import compare

    fixes = [
        compare.Change(compare.Kind.FIX, "x86_64-thp-on/default", f"t{i}" * 40, "fail", "pass") for i in range(900)
    ]
    regression = compare.Change(compare.Kind.REGRESSION, "x86_64-thp-on/default", "last", "pass", "fail")
    text = compare.markdown([*fixes, regression], "base", "series")
    assert len(text) <= compare.COMMENT_LIMIT
    assert text.splitlines()[2].startswith("| regression |") and "more changes are not shown here" in text


def _commands() -> list[str]:
    """Every registered command, as a user types it (hidden ones aside)."""
    import typer.main

    group = typer.main.get_command(app)
    names = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        if command.hidden:
            continue
        subs = getattr(command, "commands", None)
        names += [f"{name} {sub}" for sub in subs] if subs else [name]
    return sorted(names)


@pytest.mark.parametrize("command", ["", *_commands()])
def test_every_command_renders_its_help(command: str) -> None:
    result = runner.invoke(app, [*command.split(), "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    typed = [line for line in result.output.splitlines() if re.search(r"<(bool|str|path|list\[\w+\])>", line)]
    assert not typed, typed  # no Python type beside a flag (not even Typer's own --help) or an argument


def test_the_readme_command_table_names_exactly_the_registered_commands() -> None:
    import re

    table = re.findall(r"^\| `zpfarm ([a-z-]+)(?: ([a-z|\\-]+))?", (ROOT / "README.md").read_text(), re.M)
    listed = sorted(
        f"{name} {sub}" for name, subs in table if not subs.startswith("-") for sub in subs.split("\\|") if sub
    ) + sorted(name for name, subs in table if not subs or subs.startswith("-"))
    assert sorted(listed) == _commands()


def test_tests_lists_every_name_test_takes_and_each_is_accepted(tmp_path: Path) -> None:
    from farm import pipeline
    from farm.host.cache import Cache
    from farm.model import matrix

    result = runner.invoke(app, ["tests", "--matrix", str(ROOT / "matrix.toml")])
    assert result.exit_code == 0, result.output
    names = result.stdout.split()
    assert {"memory", "coherence", "selftests-mm-cow", "selftests-mm-shmem_zeropage", "selftests"} <= set(names)
    m = matrix.load(ROOT / "matrix.toml")
    opts = pipeline.options(m, m.cells, Cache(tmp_path / "c"), tmp_path / "o", tmp_path / "j.xml", tests=names)
    assert opts.selection.names == tuple(names)
