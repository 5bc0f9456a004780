"""build-each: its verdicts on captured kernel build logs, and its steps with a fake build."""

from __future__ import annotations

import subprocess
from collections.abc import Collection
from pathlib import Path

import junitparser
import pytest
from conftest import FakeFarm

from farm import build_each, pipeline
from farm.host.cache import Cache
from farm.kernel import build
from farm.model import matrix
from farm.model.errors import ZpfarmError
from farm.model.matrix import Cell, Kernel, Source
from farm.model.results import Report, Status
from farm.report.progress import Reporter
from farm.trees import Tree

# What make prints for a warning in an incremental O= build (gcc 12, 6.12 tree).
WARNING_LOG = """\
  CALL    ../../worktrees/linux-6.12.117/series/scripts/checksyscalls.sh
  CC      mm/shmem.o
../../worktrees/linux-6.12.117/series/mm/shmem.c: In function 'shmem_fault':
../../worktrees/linux-6.12.117/series/mm/shmem.c:2530:13: warning: unused variable 'zero' [-Wunused-variable]
 2530 |         int zero;
      |             ^~~~
  AR      mm/built-in.a
  LD      vmlinux.o
"""
CLEAN_LOG = "  CC      mm/shmem.o\n  AR      mm/built-in.a\n  LD      vmlinux.o\n"


def _built(tmp_path: Path, text: str, ok: bool = True) -> build.Built:
    log = tmp_path / "step.log"
    log.write_text(text)
    return build.Built(ok, None, "", 0, 42.0, log, "built" if ok else "build failed: mm/shmem.c:1: error: oops")


def test_a_patch_that_warns_fails_naming_the_warning(tmp_path: Path) -> None:
    case = build_each.verdict("0005 shmem: map the zeropage", _built(tmp_path, WARNING_LOG), is_patch=True)
    assert case.status is Status.FAIL
    assert "1 new compiler warning" in case.message and "unused variable 'zero'" in case.message


def test_the_base_may_warn_and_still_pass(tmp_path: Path) -> None:
    case = build_each.verdict("base v6.12.117", _built(tmp_path, WARNING_LOG), is_patch=False)
    assert case.status is Status.PASS and "1 warning(s) in the base" in case.message


def test_a_clean_patch_passes_and_a_broken_one_fails(tmp_path: Path) -> None:
    assert build_each.verdict("0001", _built(tmp_path, CLEAN_LOG), is_patch=True).status is Status.PASS
    broken = build_each.verdict("0002", _built(tmp_path, CLEAN_LOG + "make: *** Error 2\n", ok=False), is_patch=True)
    assert broken.status is Status.BUILD and "error: oops" in broken.message
    assert broken.elapsed == 42.0  # every step's <testcase> has its build time
    assert build_each.verdict("0001", _built(tmp_path, CLEAN_LOG), is_patch=True).elapsed == 42.0


class Quiet(Reporter):
    def notice(self, text: str) -> None: ...
    def phase(self, cell: str, phase: str, detail: str = "") -> None: ...
    def line(self, cell: str, text: str) -> None: ...
    def suite_done(self, suite: object) -> None: ...


def _series_repo(repo: Path) -> str:
    """A git repo with the tag v7.3.4 and two patches on top; the tip's commit."""

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout

    repo.mkdir()
    git("init", "-q")
    for n, subject in enumerate(["base", "mm: one", "s390/mm: two"]):
        (repo / "file").write_text(f"{n}\n")
        git("add", "file")
        git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", subject)
        if n == 0:
            git("tag", "v7.3.4")
    return git("rev-parse", "HEAD").strip()


def _s390_options(tmp_path: Path, extra: str = "") -> pipeline.Options:
    """Options for a matrix of one s390 base and series cell; extra is more TOML."""
    (tmp_path / "kernel-series").mkdir()
    (tmp_path / "testcases").mkdir()
    (tmp_path / "on.config").write_text("CONFIG_TRANSPARENT_HUGEPAGE=y\n")
    axes = '[source]\nbase = "v7.3.4"\n[axes]\nkernel = ["base", "series"]\narch = ["s390"]\nkconfig = ["on"]\n'
    (tmp_path / "matrix.toml").write_text(axes + '[kconfig.on]\nfragments = ["on.config"]\n' + extra)
    m = matrix.load(tmp_path / "matrix.toml")
    return pipeline.options(m, m.cells, Cache(tmp_path / "cache"), tmp_path / "out", tmp_path / "junit.xml")


def _trees_at(path: Path, tip: str) -> build_each.TreeMaker:
    def trees_of(
        cache: Cache, wanted: Collection[tuple[Source, Kernel]]
    ) -> dict[tuple[Source, Kernel], Tree | ZpfarmError]:
        return {w: Tree(path, tip, "hash") for w in wanted}

    return trees_of


def test_build_each_builds_a_build_only_cell_at_every_patch(tmp_path: Path) -> None:
    opts = _s390_options(tmp_path)
    tip = _series_repo(tmp_path / "linux")
    built: list[tuple[str, str]] = []

    def fake_build(
        cell: Cell, tree: Path, commit: str, cache: Cache, log: Path, progress: build.Progress
    ) -> build.Built:
        built.append((cell.name, commit))
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(WARNING_LOG if len(built) == 3 else CLEAN_LOG)  # the second patch warns
        return build.Built(True, tree / cell.arch.image, "6.12.117", 0, 1.0, log, "built")

    report = Report()
    build_each.check(opts, Quiet(), report, trees_of=_trees_at(tmp_path / "linux", tip), build_kernel=fake_build)
    assert [name for name, _ in built] == ["series-s390-on"] * 3  # the base cell is not built
    assert built[-1][1] == tip  # the tip last: the cell's build is current afterwards
    (suite,) = report.suites
    assert suite.name == "build-each/series-s390-on" and suite.properties["arch"] == "s390"
    assert [(c.name, c.status) for c in suite.cases] == [
        ("base v7.3.4", Status.PASS),
        ("0001 mm: one", Status.PASS),
        ("0002 s390/mm: two", Status.FAIL),
    ]
    assert (tmp_path / "junit.xml").is_file()


def test_build_each_uses_the_matrix_ccache_remote_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opts = _s390_options(tmp_path, '[cache]\nremote = "redis://127.0.0.1:6379"\n')
    tip = _series_repo(tmp_path / "linux")
    remotes: list[str | None] = []

    def real_build_stand_in(
        cell: Cell, tree: Path, commit: str, cache: Cache, log: Path, progress: build.Progress, *, remote: str | None
    ) -> build.Built:
        remotes.append(remote)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(CLEAN_LOG)
        return build.Built(True, tree / cell.arch.image, "6.12.117", 0, 1.0, log, "built")

    monkeypatch.setattr(build, "build", real_build_stand_in)
    build_each.check(opts, Quiet(), Report(), trees_of=_trees_at(tmp_path / "linux", tip))
    assert remotes == ["redis://127.0.0.1:6379"] * 3  # the base and both patches, as `zpfarm run` builds


def test_build_each_through_the_cli_fails_the_patch_that_warns(fakefarm: FakeFarm) -> None:
    """zpfarm build-each on tests/fakelinux: the real tree import, git am and incremental O= builds,
    natively for x86_64 and cross (ARCH=s390 CROSS_COMPILE=s390x-linux-gnu-) for a build-only arch."""
    text = fakefarm.matrix.read_text().replace('arch = ["x86_64"]', 'arch = ["x86_64", "s390"]')
    fakefarm.matrix.write_text(text)
    out = fakefarm.root / "out"
    result = fakefarm.zpfarm("build-each", "--results", out, "--quiet")
    assert result.exit_code == 1, result.output
    suites = {s.name: s for s in junitparser.JUnitXml.fromfile(str(out / "junit.xml"))}
    assert list(suites) == ["build-each/series-x86_64-shmem", "build-each/series-s390-shmem"]
    for cell, suite in suites.items():
        verdicts = {c.name: (c.result[0].message if c.result else "pass") for c in suite}
        assert list(verdicts) == [
            "base v6.12.117",
            "0001 mm: add zero_page_hole()",
            "0002 shmem: note the zero page",
            "0003 mm: map the zero page on read faults",
            "0004 Documentation: tmpfs and the zero page",
        ]
        warned = verdicts["0002 shmem: note the zero page"]
        assert warned.startswith("1 new compiler warning(s): ") and "mm/shmem.c:9:9: warning: unused variable" in warned
        assert [m for m in verdicts.values() if "warning" in m] == [warned], cell
    table = " ".join(result.output.split())
    assert "series-x86_64-shmem │ 0002 shmem: note the zero page │ fail 1 new compiler warning(s)" in table
    steps = sorted(p.name for p in (out / "series-x86_64-shmem").glob("*.log"))
    assert steps == ["0000.log", "0001.log", "0002.log", "0003.log", "0004.log", "config.log", "olddefconfig.log"]
    assert "CC      mm/gup.o" not in (out / "series-x86_64-shmem" / "0003.log").read_text()  # incremental
    s390 = fakefarm.cache / "build" / "series-s390-shmem"
    assert (s390 / "arch" / "s390" / "boot" / "bzImage").is_file()
    assert "CROSS_COMPILE=s390x-linux-gnu-" in (s390 / ".config").read_text()
