"""zpfarm run --series: the matrix's series replaced by an imported thread, on the series' own base."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import kernels
import lore
import pytest
from test_pipeline import FakeStages, Recorder

from farm import pipeline, plan, seriesrun
from farm.host.cache import Cache
from farm.kernel import git, series
from farm.model import matrix
from farm.model.arches import Arch
from farm.model.errors import UserError, ZpfarmError
from farm.model.matrix import Kernel, Source
from farm.stages import Tree


@pytest.fixture
def farm(tmp_path: Path) -> matrix.Matrix:
    """A matrix on a small kernel tree (tagged v6.12) whose series is a copy of kernel-series/v6.12."""
    linux = tmp_path / "linux"
    linux.mkdir()
    kernels.git(linux, "init", "-q", "-b", "main")
    (linux / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 118\n")
    kernels.git(linux, "add", "-A")
    kernels.git(linux, "commit", "-qm", "Linux 6.12.118")
    kernels.git(linux, "tag", "v6.12")
    shutil.copytree(lore.V612, tmp_path / "kernel-series")
    (tmp_path / "testcases").mkdir()
    (tmp_path / "testcases" / "memory.c").write_text("int main(void) { return 0; }\n")
    (tmp_path / "testcases" / "expectations.toml").write_text("")
    (tmp_path / "on.config").write_text("CONFIG_TRANSPARENT_HUGEPAGE=y\n")
    (tmp_path / "matrix.toml").write_text(
        textwrap.dedent("""
        series = "kernel-series"
        [source]
        tree = "linux"
        base = "v6.12"
        [axes]
        kernel = ["base", "series"]
        arch = ["x86_64"]
        kconfig = ["on"]
        [kconfig.on]
        fragments = ["on.config"]
        [runtime.default]
        """)
    )
    return matrix.load(tmp_path / "matrix.toml")


@dataclass
class IdentityStages(FakeStages):
    """Fake stages whose series commit is what series.apply makes it: one per patch-id identity and base."""

    kernels: list[tuple[str, str]] = field(default_factory=list)  # (cell, commit) of every build asked for

    def prepare_trees(
        self, wanted: Collection[tuple[Source, Kernel]]
    ) -> Mapping[tuple[Source, Kernel], Tree | ZpfarmError]:
        trees: dict[tuple[Source, Kernel], Tree | ZpfarmError] = {}
        for src, k in wanted:
            assert src.tree is not None
            base = git.resolve(src.tree, src.base)  # as source.base_commit resolves it
            if k is Kernel.BASE:
                trees[src, k] = Tree(self.tmp, f"{base}", "")
            else:
                loaded = series.load(src.series)
                trees[src, k] = Tree(self.tmp, f"{base}+{loaded.identity[:16]}", loaded.hash, loaded.identity)
        return trees

    def build(self, cell: matrix.Cell, tree: Tree, progress: object) -> object:  # type: ignore[override]
        self.kernels.append((cell.name, tree.commit))
        return super().build(cell, tree, lambda _: None)


def _run(
    tmp_path: Path, m: matrix.Matrix, cells: tuple[matrix.Cell, ...], name: str
) -> tuple[IdentityStages, dict[str, str]]:
    """The stages after a run, and the series suite's properties."""
    stages = IdentityStages(tmp_path)
    opts = pipeline.options(m, cells, Cache(tmp_path / "cache"), tmp_path / name, tmp_path / f"{name}.xml")
    report = pipeline.run(opts, Recorder(), stages)
    assert [s.name for s in report.suites] == ["base-x86_64-on/default", "series-x86_64-on/default"]
    return stages, dict(report.suites[1].properties)


def _gcc(arch: Arch) -> plan.Toolchain:
    return plan.Toolchain(arch.cc, "gcc (Debian 12.2.0-14) 12.2.0")


def test_a_posted_series_with_the_repository_patch_ids_builds_nothing_new(farm: matrix.Matrix, tmp_path: Path) -> None:
    base = kernels.git(tmp_path / "linux", "rev-parse", "v6.12")
    lore.thread(tmp_path / "thread.mbox", revision=4, base_commit=base)
    before, repo_props = _run(tmp_path, farm, farm.cells, "repo")
    warned: list[str] = []
    m, cells, imported = seriesrun.with_series(
        farm, farm.cells, f"mbox:{tmp_path / 'thread.mbox'}", Cache(tmp_path / "cache"), warned.append
    )
    after, posted_props = _run(tmp_path, m, cells, "posted")
    assert {c.source.series for c in cells} == {imported.directory}  # the matrix's series is overridden
    assert series.load(imported.directory).hash != series.load(farm.source.series).hash  # other bytes
    assert set(after.kernels) <= set(before.kernels)  # ... the same kernels: nothing new to build
    assert [k for k in after.kernels if k[0].startswith("series")] == [("series-x86_64-on", after.kernels[1][1])]
    keys = [b.key for b in plan.make(farm, farm.cells, toolchain=_gcc).builds]
    assert [b.key for b in plan.make(m, cells, toolchain=_gcc).builds] == keys
    assert warned == [] and imported.info.revision == 4
    assert posted_props["series_id"] == repo_props["series_id"]  # what history follows: the same series
    assert posted_props["series_hash"] != repo_props["series_hash"]  # KCIDB's patchset_hash: the bytes


def test_a_series_without_base_commit_runs_on_the_matrix_base_with_a_warning(
    farm: matrix.Matrix, tmp_path: Path
) -> None:
    lore.thread(tmp_path / "thread.mbox", base_commit=None)
    warned: list[str] = []
    m, _, _ = seriesrun.with_series(
        farm, farm.cells, f"mbox:{tmp_path / 'thread.mbox'}", Cache(tmp_path), warned.append
    )
    assert m.source.base == "v6.12"
    assert len(warned) == 1 and "git format-patch --base" in warned[0]


def test_a_base_commit_the_tree_lacks_is_bad_input_naming_kernel_tree_and_base(
    farm: matrix.Matrix, tmp_path: Path
) -> None:
    posted = lore.directory(tmp_path / "posted", lore.BASE_612)  # the farm's import of 6.12.118: not this tree
    with pytest.raises(UserError, match=r"042bc9e584a6 is not in the tree .*--kernel-tree DIR --base 042bc9e584a6"):
        seriesrun.with_series(farm, farm.cells, str(posted), Cache(tmp_path), print)


def test_prerequisites_the_base_does_not_have_are_named(farm: matrix.Matrix, tmp_path: Path) -> None:
    base = kernels.git(tmp_path / "linux", "rev-parse", "v6.12")
    posted = lore.directory(tmp_path / "posted", base, footer=f"prerequisite-patch-id: {'ab' * 20}\n")
    with pytest.raises(UserError, match=r"prerequisite patches .*abababababab"):
        seriesrun.with_series(farm, farm.cells, str(posted), Cache(tmp_path), print)


def test_a_base_commit_other_than_the_matrix_base_but_in_the_tree_becomes_the_base(
    farm: matrix.Matrix, tmp_path: Path
) -> None:
    linux = tmp_path / "linux"
    older = kernels.git(linux, "rev-parse", "v6.12")
    (linux / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 119\n")
    kernels.git(linux, "commit", "-qam", "Linux 6.12.119")
    kernels.git(linux, "tag", "-f", "v6.12")  # the matrix base moved on; the series was made on the older release
    posted = lore.directory(tmp_path / "posted", older)
    m, cells, _ = seriesrun.with_series(farm, farm.cells, str(posted), Cache(tmp_path), print)
    assert m.source.base == older and {c.source.base for c in cells} == {older}
    assert kernels.git(linux, "rev-parse", "HEAD") != older  # the user's checkout is left where it was
