"""The jobs that build and boot: run, build-each, sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from farm import pipeline, seriesrun, ui
from farm.commands.common import (
    AccelOpt,
    BaseOpt,
    CacheOpt,
    CellOpt,
    FailOnFlakyOpt,
    HistoryOpt,
    JunitOpt,
    MatrixOpt,
    Outcome,
    QuietOpt,
    RetriesOpt,
    SelftestsOpt,
    TestOpt,
    TreeOpt,
    cache,
    error,
    flaky_gate,
    job,
    judged_by,
    junit_written,
    load,
    matrix,
    out,
    recording,
    reporter,
    results,
    warn,
)
from farm.model.arches import Accel
from farm.model.matrix import Kernel
from farm.model.results import Report, Status


def run(
    ctx: typer.Context,
    matrix_file: MatrixOpt = None,
    cell: CellOpt = None,
    test: TestOpt = None,
    junit_file: JunitOpt = None,
    results_dir: Annotated[
        Path, typer.Option("--results", metavar="DIR", help="Directory for this run's logs, consoles and JUnit.")
    ] = Path("results/latest"),
    accel: AccelOpt = Accel.AUTO,
    kernel_tree: TreeOpt = None,
    base: BaseOpt = None,
    cache_dir: CacheOpt = None,
    history: HistoryOpt = None,
    quiet: QuietOpt = False,
    with_selftests: SelftestsOpt = True,
    retries: RetriesOpt = 1,
    fail_on_flaky: FailOnFlakyOpt = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            metavar="N",
            help="Guests at once \\[default: what the cores and memory hold at the guest's size].",
        ),
    ] = None,
    series_source: Annotated[
        str | None,
        typer.Option(
            "--series",
            metavar="SOURCE",
            help="Test this series instead of the matrix's: msgid:ID, a lore URL, mbox:FILE, pw:ID or a directory "
            "(imported into the cache, on its base-commit).",
        ),
    ] = None,
) -> Report | Outcome:
    """Build every selected cell, boot it once per runtime variant, run the tests, write JUnit.

    [bold]Examples[/]
      zpfarm run                                   the whole default matrix
      zpfarm run --cell 'series-x86_64-thp-on'     one cell, all its runtime variants
      zpfarm run --cell '*x86_64-thp-off*' -t memory
      zpfarm run --kernel-tree ~/linux --base v6.12 -c 'series-x86_64-*'
      zpfarm run --series mbox:thread.mbox -m matrix-v6.12.toml   a posted series, on its base-commit
      zpfarm run --retries 2 --fail-on-flaky       rerun failures twice; a flake fails the run
    """
    junit_path = junit_file or results_dir / "junit.xml"
    report = Report()
    kept = recording(history, results_dir, "run", verdicts=True)
    with job(junit_path, report, kept):
        c = cache(cache_dir)
        m, cells = load(matrix_file, cell, c, kernel_tree, base)
        where = results(ctx, results_dir)
        if series_source is not None:
            m, cells, imported = seriesrun.with_series(m, cells, series_source, c, warn)
            out.print(
                f"series: {imported.info.subject} v{imported.info.revision} ({imported.directory})", soft_wrap=True
            )
            seriesrun.keep_info(imported, where)
        opts = pipeline.options(
            m,
            cells,
            c,
            where,
            junit_path,
            accel=accel,
            tests=test or (),
            selftests=with_selftests,
            jobs=jobs,
            retries=retries,
        )
        shown = reporter([c.name for c in cells], quiet)
        with shown.shown():
            pipeline.run(opts, shown, report=report)
    ui.print_summary(out, report, junit_path, judged_by(kept, report.suites))
    for problem in report.problems(Status.INPUT):
        error(problem)
    junit_written(report, junit_path)
    return flaky_gate(report, fail_on_flaky)


def build_each(
    ctx: typer.Context,
    matrix_file: MatrixOpt = None,
    cell: CellOpt = None,
    junit_file: JunitOpt = None,
    results_dir: Annotated[
        Path, typer.Option("--results", metavar="DIR", help="Directory for the step logs and JUnit.")
    ] = Path("results/build-each"),
    kernel_tree: TreeOpt = None,
    base: BaseOpt = None,
    cache_dir: CacheOpt = None,
    history: HistoryOpt = None,
    quiet: QuietOpt = False,
) -> Report:
    """Build the series one patch at a time in each series cell: is every step bisectable?

    The base is built first, then each patch in order, in the cell's own build
    directory, so every step recompiles what one patch changed. A patch fails when
    its build fails or its compile prints a warning. No guest boots.

    [bold]Examples[/]
      zpfarm build-each                              every series cell of the matrix
      zpfarm build-each --cell 'series-arm64-*'
    """
    from farm import build_each as each

    junit_path = junit_file or results_dir / "junit.xml"
    report = Report()
    with job(junit_path, report, recording(history, results_dir, "build-each")):
        c = cache(cache_dir)
        m, cells = load(matrix_file, cell, c, kernel_tree, base)
        opts = pipeline.options(m, cells, c, results(ctx, results_dir), junit_path)
        shown = reporter([c.name for c in cells if c.kernel is Kernel.SERIES], quiet)
        with shown.shown():
            each.check(opts, shown, report)
    out.print(ui.build_each_table(report))
    junit_written(report, junit_path)
    return report


def sweep(
    ctx: typer.Context,
    matrix_file: MatrixOpt = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="GLOB",
            help="Only TOOLCHAIN/CONFIG pairs matching (repeatable): 'x86_64-gcc/allnoconfig'.",
        ),
    ] = None,
    junit_file: JunitOpt = None,
    results_dir: Annotated[
        Path, typer.Option("--results", metavar="DIR", help="Directory for the compile logs and JUnit.")
    ] = Path("results/sweep"),
    kernel_tree: TreeOpt = None,
    base: BaseOpt = None,
    cache_dir: CacheOpt = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", metavar="N", help="make -jN \\[default: every core].", show_default=False)
    ] = 0,
    nice: Annotated[int, typer.Option("--nice", metavar="N", help="Run make under nice -n N.")] = 10,
    history: HistoryOpt = None,
    quiet: QuietOpt = False,
) -> Report:
    """Compile the objects each patch touches under many configs and toolchains (a 0-day-style sweep).

    The matrix's \\[sweep] table says which: allnoconfig, tinyconfig, defconfig,
    allmodconfig and seeded randconfigs (biased to toggle the CONFIG_ options the
    series' files test), gcc on six arches and clang on two. Each config is
    prepared once at the base and kept in the cache. A patch fails when one of
    its objects does not compile, or prints a W=1 warning the base does not; a
    missing compiler is skipped, naming its package. Every case has a reproducer.

    [bold]Examples[/]
      zpfarm sweep                                     the matrix's whole sweep
      zpfarm sweep --only 'x86_64-gcc/allnoconfig' --only 'x86_64-gcc/defconfig'
      zpfarm sweep --only '*-clang/*' -j 2
    """
    from farm import sweep as sweeping

    junit_path = junit_file or results_dir / "junit.xml"
    report = Report()
    with job(junit_path, report, recording(history, results_dir, "sweep")):
        c = cache(cache_dir)
        m = matrix(matrix_file, c, kernel_tree, base)
        opts = sweeping.options(m, c, results(ctx, results_dir), junit_path, tuple(only or ()), jobs, nice)
        shown = reporter(sweeping.rows(opts), quiet)
        with shown.shown():
            sweeping.run(opts, shown, report)
    out.print(ui.sweep_table(report))
    junit_written(report, junit_path)
    return report
