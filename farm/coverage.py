"""`zpfarm coverage` and a coverage cell's report after each boot: which added lines ran.

The guest's .gcda files (farm.guest.gcov), the build's .gcno files and the
series go in; coverage.md and coverage.html (farm.report.coverage_page) come
out beside them, and the numbers become the suite's JUnit properties.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from farm.guest import gcov as guest_gcov
from farm.kernel import gcov, series
from farm.model.arches import Arch
from farm.model.errors import ZpfarmError
from farm.model.matrix import Cell, Kernel
from farm.report import coverage, coverage_page, diff

EXCEPTIONS = "coverage-exceptions.toml"  # in the matrix's testcases directory


@dataclass(frozen=True)
class Written:
    coverage: coverage.Coverage
    markdown: Path
    html: Path


def report(
    gcda_dir: Path, build_dir: Path, series_dir: Path, arch: Arch, out: Path, title: str, exceptions: Path | None
) -> Written:
    """Run gcov on every .gcda with its .gcno, judge the series' added lines, write md and html into out."""
    loaded = series.load(series_dir)
    patches = diff.series((p.name, p.read_text(encoding="utf-8", errors="replace")) for p in loaded.patches)
    files = sorted({a.file for p in patches for a in p.added if coverage.is_kernel_source(a.file)})
    docs = gcov.json_docs(gcov.binary(arch), gcov.pairs(gcda_dir, build_dir), out / "gcov" / "gcov.log")
    counts = coverage.merge(coverage.parse_gcov(doc, files) for doc in docs)
    judged = coverage.judge(patches, counts, coverage.load_exceptions(exceptions))
    out.mkdir(parents=True, exist_ok=True)
    md, page = out / "coverage.md", out / "coverage.html"
    md.write_text(coverage_page.markdown(judged, title), encoding="utf-8")
    page.write_text(coverage_page.page(judged, title), encoding="utf-8")
    return Written(judged, md, page)


def after_boot(cell: Cell, share: Path, build_dir: Path, out: Path, testcases: Path) -> dict[str, str]:
    """The suite's coverage properties; a report that cannot be made says why in coverage_error."""
    if not cell.kconfig.coverage or cell.kernel is not Kernel.SERIES:
        return {}
    try:
        written = report(
            share / guest_gcov.DIR, build_dir, cell.source.series, cell.arch, out, cell.name, testcases / EXCEPTIONS
        )
    except ZpfarmError as e:
        return {"coverage_error": str(e)}
    return written.coverage.properties() | {"coverage_report": str(written.markdown)}
