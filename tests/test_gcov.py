"""The coverage pipeline on a real gcov: tests/data/coverage/src built with gcc --coverage and run.

GCOV_PREFIX puts the .gcda under a directory of its own at the object's
absolute path, as the kernel's /sys/kernel/debug/gcov does and the guest
copies it (farm/guest/files/gcov_collect.py), so farm.kernel.gcov finds each
.gcno in the build by the path's tail as it does for a kernel.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from cli import app
from farm import coverage as farm_coverage
from farm.guest import gcov as guest_gcov
from farm.kernel import build, gcov, git, series
from farm.model import arches, matrix
from farm.model.errors import UserError
from farm.report import diff

ROOT = Path(__file__).parent.parent
DATA = ROOT / "tests" / "data" / "coverage"
HOST = arches.for_machine(platform.machine())


def _load_collector() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gcov_collect", guest_gcov.SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gcov_collect = _load_collector()


@pytest.fixture
def ran(tmp_path: Path) -> tuple[Path, Path]:
    """(gcda directory, build directory) of the tip, run once with no argument."""
    src, build, gcda = tmp_path / "src", tmp_path / "build", tmp_path / "gcda"
    shutil.copytree(DATA / "src", src)
    (build / "mm").mkdir(parents=True)
    obj = build / "mm" / "zp.o"
    subprocess.run(["gcc", "--coverage", "-O0", "-c", "mm/zp.c", "-o", str(obj)], cwd=src, check=True)
    subprocess.run(["gcc", "--coverage", str(obj), "-o", str(build / "zp")], check=True)
    env = {**os.environ, "GCOV_PREFIX": str(gcda)}
    subprocess.run([str(build / "zp")], env=env, check=True, capture_output=True)
    return gcda, build


def test_pairs_find_each_gcno_by_the_path_tail(ran: tuple[Path, Path]) -> None:
    gcda, build = ran
    ((data, notes),) = gcov.pairs(gcda, build)
    assert data.name == "zp.gcda" and notes == build / "mm" / "zp.gcno"
    with pytest.raises(UserError, match=r"no \.gcda"):
        gcov.pairs(gcda, build / "mm" / "elsewhere")


def test_report_from_real_gcov(ran: tuple[Path, Path], tmp_path: Path) -> None:
    gcda, build = ran
    patches = farm_coverage.series_patches(DATA / "series")
    written = farm_coverage.report(gcda, build, patches, HOST, tmp_path / "out", "tiny", None)
    cov = written.coverage
    assert (cov.tally(1).executed, cov.tally(1).missed) == (4, 0)
    assert (cov.tally(2).executed, cov.tally(2).missed, cov.tally(2).no_data) == (0, 3, 4)
    assert "never executed: `helper` (mm/zp.c:3, 5)" in written.markdown.read_text()
    assert "return helper(x);" in written.html.read_text()
    assert (tmp_path / "out" / "gcov").is_dir()


def test_coverage_command_exits_1_under_the_goal(ran: tuple[Path, Path], tmp_path: Path) -> None:
    gcda, build = ran
    argv = ["coverage", "--gcda", str(gcda), "--build", str(build), "--series", str(DATA / "series")]
    result = CliRunner().invoke(app, [*argv, "--out", str(tmp_path / "out"), "--arch", HOST.name])
    assert result.exit_code == 1, result.output
    assert "| 1 | mm: map the zero page on read faults | 4/4 (100.0%) | 0 | 0 |" in result.output
    assert (tmp_path / "out" / "coverage.html").is_file()


def test_coverage_command_bad_input_is_exit_2(tmp_path: Path) -> None:
    argv = ["coverage", "--gcda", str(tmp_path), "--build", str(tmp_path), "--series", str(DATA / "series")]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert "no .gcda" in result.output


def test_guest_collector_copies_gcda_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """gcov_collect.py copy, on a stand-in for /sys/kernel/debug/gcov."""
    fake = tmp_path / "debugfs" / "gcov"
    (fake / "build" / "mm").mkdir(parents=True)
    (fake / "build" / "mm" / "shmem.gcda").write_bytes(b"counters")
    (fake / "build" / "mm" / "shmem.gcno").write_bytes(b"a link in the kernel")
    monkeypatch.setattr(gcov_collect, "GCOV", str(fake))
    assert gcov_collect.main(["gcov_collect.py", "copy", str(tmp_path / "share" / "gcov")]) == 0
    assert (tmp_path / "share" / "gcov" / "build" / "mm" / "shmem.gcda").read_bytes() == b"counters"
    assert not list((tmp_path / "share").rglob("*.gcno"))
    assert gcov_collect.main(["gcov_collect.py", "bogus"]) == 1


def test_a_coverage_build_profiles_the_series_c_files_on_the_make_command_line() -> None:
    m = matrix.load(ROOT / "matrix-coverage.toml")
    cell = next(c for c in m.cells if c.source.name == "v7.3")
    assert "mm/shmem.c" in series.touched_files(series.load(cell.source.series))
    stems = ("gup", "khugepaged", "memory", "mprotect", "shmem", "userfaultfd")
    wanted = {f"GCOV_PROFILE_{stem}.o=$(if $(filter mm,$(obj)),y)" for stem in stems}
    assert wanted <= set(build.make_argv(cell, Path("/b")))
    assert "GCOV_PROFILE_gmap_helpers.o=$(if $(filter arch/s390/mm,$(obj)),y)" in build.profile_vars(cell)
    assert not any(v.startswith("GCOV_PROFILE_shmem_zeropage") for v in build.profile_vars(cell))  # a selftest


def test_the_profile_variables_reach_only_the_series_directories(tmp_path: Path) -> None:
    """make itself, recursing as kbuild does (obj= per directory, GCOV_PROFILE := n in boot code)."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "Makefile").write_text("all:\n\t$(MAKE) -s -C sub obj=mm\n\t$(MAKE) -s -C sub obj=arch/x86/boot\n")
    decide = "$(patsubst n%,,$(GCOV_PROFILE_memory.o)$(GCOV_PROFILE))"
    (tmp_path / "sub" / "Makefile").write_text(f"GCOV_PROFILE := n\nall:\n\t@echo $(obj)=[{decide}]\n")
    cell = next(c for c in matrix.load(ROOT / "matrix-coverage.toml").cells if c.source.name == "v7.3")
    (var,) = (v for v in build.profile_vars(cell) if v.startswith("GCOV_PROFILE_memory.o="))
    done = subprocess.run(["make", "-s", var], cwd=tmp_path, capture_output=True, text=True, check=True)
    # "yn": profiled (the directory's n comes after); "": not
    assert [line for line in done.stdout.splitlines() if "=[" in line] == ["mm=[yn]", "arch/x86/boot=[]"]
    plain = replace(cell, kconfig=replace(cell.kconfig, coverage=False))
    assert build.profile_vars(plain) == []
    assert build.config_digest(plain) != build.config_digest(cell)


def test_after_boot_reports_a_series_coverage_cell(ran: tuple[Path, Path], tmp_path: Path) -> None:
    gcda, build_dir = ran
    (tmp_path / "testcases").mkdir()
    (tmp_path / "testcases" / "coverage-exceptions.toml").write_text(
        '[[exception]]\nfile = "mm/zp.c"\nfunction = "helper"\nwhy = "never called here"\n'
    )
    (tmp_path / "gcov.config").write_text("CONFIG_GCOV_KERNEL=y\n")
    (tmp_path / "matrix.toml").write_text(
        f'series = "{DATA / "series"}"\ntestcases = "testcases"\n'
        f'[axes]\nkernel = ["base", "series"]\narch = ["{HOST.name}"]\nkconfig = ["gcov"]\n'
        '[kconfig.gcov]\nfragments = ["gcov.config"]\ncoverage = true\n'
    )
    m = matrix.load(tmp_path / "matrix.toml")
    base, tip = sorted(m.cells, key=lambda c: c.kernel.value)
    share = tmp_path / "share"
    shutil.copytree(gcda, share / "gcov")
    tree = applied(tmp_path / "tree")
    props = farm_coverage.after_boot(tip, share, build_dir, tree, tmp_path / "out", m.testcases_dir)
    assert props["coverage_patch_02"] == "0/1" and props["coverage_excepted"] == "2"
    assert Path(props["coverage_report"]).is_file()
    assert farm_coverage.after_boot(base, share, build_dir, tree, tmp_path / "out", m.testcases_dir) == {}
    lost = farm_coverage.after_boot(tip, tmp_path / "empty", build_dir, tree, tmp_path / "out", m.testcases_dir)
    assert "no .gcda" in lost["coverage_error"]


def applied(tree: Path) -> Path:
    """A git tree of the series' base, the series applied by the farm."""
    (tree / "mm").mkdir(parents=True)
    (tree / "mm" / "zp.c").write_text((DATA / "base" / "mm" / "zp.c").read_text())
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"], ["tag", "base"]):
        assert git.run(tree, args).ok
    series.apply(series.load(DATA / "series"), tree, "base")
    return tree


def test_the_patches_as_the_farm_applied_them(tmp_path: Path) -> None:
    """git format-patch of the applied commits (a base with offsets moves the lines: Linux 6.12.118)."""
    tree = applied(tmp_path / "tree")
    tip = (tree / "mm" / "zp.c").read_text().splitlines()
    as_applied = diff.series(farm_coverage.series_patches(DATA / "series", tree))
    placed = [a for p in as_applied for a in p.added if a.line is not None and a.file == "mm/zp.c"]
    assert len(placed) == 14 and all(tip[a.line - 1] == a.text for a in placed)
    assert [p.name for p in as_applied] == [p.name for p in series.load(DATA / "series").patches]
    with pytest.raises(UserError, match="never applied"):
        farm_coverage.series_patches(DATA / "series", tmp_path)
