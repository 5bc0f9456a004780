"""Is the series bisectable? Build every series cell at each of its patches.

Each cell's own build directory is reused and the steps go in order: first
the base (so the build tree holds the base), then patch 1, 2, ... so every
step recompiles exactly what one patch changed. A patch whose build fails or
whose compile prints a warning fails its test case; the log of the step is
kept. The last step is the tip, so the cell's build is current afterwards
and the next `zpfarm run` does not rebuild.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path

from farm.cellrun import LOG_TAIL, stage_error
from farm.host.cache import Cache
from farm.kernel import build, git
from farm.model.errors import UserError, ZpfarmError
from farm.model.matrix import Cell, Kernel, Source
from farm.model.results import Report, Status, Suite, TestResult
from farm.options import Options
from farm.report import junit
from farm.report.progress import Reporter
from farm.trees import Tree, prepare_trees

# The two side effects, as build.build and trees.prepare_trees take them (tests pass fakes).
Builder = Callable[[Cell, Path, str, Cache, Path, build.Progress], build.Built]
TreeMaker = Callable[[Cache, Collection[tuple[Source, Kernel]]], Mapping[tuple[Source, Kernel], Tree | ZpfarmError]]


def check(
    opts: Options,
    reporter: Reporter,
    report: Report,
    *,
    trees_of: TreeMaker = prepare_trees,
    build_kernel: Builder | None = None,
) -> None:
    """One JUnit suite per series cell, one case per patch (and one for the base), added to report.

    Build-only cells (s390) are built like any other: build-each never boots. The builds use
    the matrix's ccache remote storage ([cache] remote), as `zpfarm run` does.
    """
    build_kernel = build_kernel or functools.partial(build.build, remote=opts.matrix.cache_remote)
    cells = [c for c in opts.cells if c.kernel is Kernel.SERIES]
    if not cells:
        raise UserError("no series cell selected: build-each builds the patches of the series cells")
    with opts.cache.trees_lock(lambda: reporter.notice("another zpfarm run is using the kernel trees: waiting")):
        reporter.notice("preparing kernel trees")
        trees = trees_of(opts.cache, {(c.source, Kernel.SERIES) for c in cells})
        for cell in cells:
            started = datetime.now(UTC)
            tree = trees[cell.source, Kernel.SERIES]
            if isinstance(tree, Tree):
                cases = _steps(opts, cell, tree, reporter, build_kernel)
            else:
                cases = [stage_error("series", tree)]
            suite = Suite(
                f"build-each/{cell.name}",
                tuple(cases),
                {"arch": cell.arch.name, "kconfig": cell.kconfig.name, "kernel": cell.kernel.value},
                "",
                started,
                (datetime.now(UTC) - started).total_seconds(),
            )
            report.suites.append(suite)
            junit.write(opts.junit, report.suites)
            report.junit = opts.junit
            reporter.suite_done(suite)


def _steps(opts: Options, cell: Cell, tree: Tree, reporter: Reporter, build_kernel: Builder) -> list[TestResult]:
    base = cell.source.base
    commits = git.out(tree.path, ["rev-list", "--reverse", f"{base}..{tree.commit}"]).split()
    cases = []
    # build.build checks each commit out under the build lock; the last step leaves the tip.
    for n, commit in enumerate([git.out(tree.path, ["rev-parse", f"{base}^{{commit}}"]), *commits]):
        subject = git.out(tree.path, ["log", "-1", "--format=%s", commit])
        name = f"{n:04d} {subject}" if n else f"base {base}"
        reporter.phase(cell.name, f"build {n}/{len(commits)}", subject)
        log = opts.out / cell.name / f"{n:04d}.log"
        built = build_kernel(cell, tree.path, commit, opts.cache, log, functools.partial(reporter.line, cell.name))
        cases.append(verdict(name, built, is_patch=n > 0))
    return cases


def verdict(name: str, built: build.Built, *, is_patch: bool) -> TestResult:
    """A patch passes when it builds without a warning; the base only has to build."""
    if not built.ok:
        return TestResult(name, Status.BUILD, built.message, _tail(built), elapsed=built.elapsed)
    lines = build.warning_lines(built.log)
    if lines and is_patch:
        message = f"{len(lines)} new compiler warning(s): {lines[0]}"
        return TestResult(name, Status.FAIL, message, "\n".join(lines), elapsed=built.elapsed)
    note = f"built in {built.elapsed:.0f} s" + (f", {len(lines)} warning(s) in the base" if lines else "")
    return TestResult(name, Status.PASS, note, "\n".join(lines), elapsed=built.elapsed)


def _tail(built: build.Built) -> str:
    return built.log.read_text(errors="replace")[-LOG_TAIL:] if built.log.is_file() else ""
