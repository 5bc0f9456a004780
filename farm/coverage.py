"""`zpfarm coverage` and a coverage cell's report after each boot: which added lines ran.

The guest's .gcda files (farm.guest.gcov), the build's .gcno files and the
series go in; coverage.md and coverage.html (farm.report.coverage_page) come
out beside them, and the numbers become the suite's JUnit properties.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from farm.guest import gcov as guest_gcov
from farm.kernel import gcov, git, series
from farm.model.arches import Arch
from farm.model.errors import InfraError, UserError, ZpfarmError
from farm.model.matrix import Cell, Kernel
from farm.report import coverage, coverage_page, diff

EXCEPTIONS = "coverage-exceptions.toml"  # in the matrix's testcases directory
Patches = Sequence[tuple[str, str]]  # (file name, text) of each patch, in order


@dataclass(frozen=True)
class Written:
    coverage: coverage.Coverage
    markdown: Path
    html: Path


def report(
    gcda_dir: Path, build_dir: Path, patches: Patches, arch: Arch, out: Path, title: str, exceptions: Path | None
) -> Written:
    """Run gcov on every .gcda with its .gcno, judge the series' added lines, write md and html into out."""
    placed = diff.series(patches)
    files = sorted({a.file for p in placed for a in p.added if coverage.is_kernel_source(a.file)})
    docs = gcov.json_docs(gcov.binary(arch), gcov.pairs(gcda_dir, build_dir), out / "gcov" / "gcov.log")
    counts = coverage.merge(coverage.parse_gcov(doc, files) for doc in docs)
    judged = coverage.judge(placed, counts, coverage.load_exceptions(exceptions))
    out.mkdir(parents=True, exist_ok=True)
    md, page = out / "coverage.md", out / "coverage.html"
    md.write_text(coverage_page.markdown(judged, title), encoding="utf-8")
    page.write_text(coverage_page.page(judged, title), encoding="utf-8")
    return Written(judged, md, page)


def series_patches(series_dir: Path, tree: Path | None = None) -> Patches:
    """(name, text) of each patch: as the farm applied it in tree, else as the series directory has it.

    A series applied with offsets (a base close to the one it was made on) has other line numbers
    in the tree than in its files; `git format-patch` of the applied commits has the real ones.
    """
    loaded = series.load(series_dir)
    files = [(p.name, p.read_text(encoding="utf-8", errors="replace")) for p in loaded.patches]
    if tree is None:
        return files
    ref = series.applied_ref(loaded)
    if git.resolve(tree, ref) is None:
        raise UserError(f"{tree}: the series in {series_dir} was never applied there (no {ref})")
    with tempfile.TemporaryDirectory(prefix="zpfarm-series-") as tmp:
        done = git.run(tree, ["format-patch", "-q", "-o", tmp, f"{ref}~{len(files)}..{ref}"])
        made = sorted(Path(tmp).glob("*.patch"))
        if not done.ok or len(made) != len(files):
            raise InfraError(f"git format-patch in {tree} failed: {done.tail(2)}")
        return [
            (name, m.read_text(encoding="utf-8", errors="replace")) for (name, _), m in zip(files, made, strict=True)
        ]


def after_boot(cell: Cell, share: Path, build_dir: Path, tree: Path, out: Path, testcases: Path) -> dict[str, str]:
    """The suite's coverage properties; a report that cannot be made says why in coverage_error.

    tree is the worktree the farm applied the series in (its line numbers are the real ones).
    """
    if not cell.kconfig.coverage or cell.kernel is not Kernel.SERIES:
        return {}
    try:
        patches = series_patches(cell.source.series, tree)
        gcda = share / guest_gcov.DIR
        written = report(gcda, build_dir, patches, cell.arch, out, cell.name, testcases / EXCEPTIONS)
    except ZpfarmError as e:
        return {"coverage_error": str(e)}
    return written.coverage.properties() | {"coverage_report": str(written.markdown)}
