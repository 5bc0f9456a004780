"""The commands that look and tell: matrix, tests, doctor, compare, coverage."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from farm import pipeline, ui
from farm.commands import series
from farm.commands.common import (
    ROOT,
    BaseOpt,
    CacheOpt,
    CellOpt,
    Format,
    MatrixOpt,
    Outcome,
    TreeOpt,
    cache,
    error,
    out,
    plain_matrix,
)
from farm.model import arches
from farm.report import pooled, stats

if TYPE_CHECKING:
    from farm.report.history import noise


def show_matrix(
    matrix_file: MatrixOpt = None,
    cell: CellOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", metavar="", help="Print JSON to stdout instead of a table.")
    ] = False,
) -> None:
    """List the cells a run would build and boot."""
    m = plain_matrix(matrix_file)
    cells = m.select(cell or [])
    if as_json:
        sys.stdout.write(json.dumps(ui.cells_json(cells), indent=2) + "\n")
    else:
        out.print(ui.cells_table(m, cells))


def tests(matrix_file: MatrixOpt = None) -> None:
    """List every name --test takes: the testcases, the selftest runs and the series' own selftests.

    A selftest name also selects the runs it is the prefix of (selftests-mm-uffd-unit-tests: each
    group); 'selftests' selects all of them.
    """
    from farm.guest import selection

    m = plain_matrix(matrix_file)
    names = selection.known(m.testcases_dir, pipeline.new_selftests(m, m.cells))
    sys.stdout.write("".join(f"{name}\n" for name in [*names, selection.SELFTESTS]))


def doctor(matrix_file: MatrixOpt = None, cache_dir: CacheOpt = None) -> Outcome:
    """Check this host: tools, packages, the matrix's kernel sources, KVM, disk; say what to install."""
    from farm.doctor import checks

    found = checks(cache(cache_dir), plain_matrix(matrix_file).sources)
    out.print(ui.doctor_table(found))
    missing = [c for c in found if not c.ok]
    if missing:
        error(f"{len(missing)} missing: " + "; ".join(f"{c.name} ({c.fix})" for c in missing))
        return Outcome.INFRA
    return Outcome.PASSED


def compare(
    runs: Annotated[
        list[str],
        typer.Argument(
            metavar="JUNIT",
            help="JUnit files (or quoted globs), one per run. One file: its base vs its series; two: run vs run.",
        ),
    ],
    vs: Annotated[
        list[str] | None,
        typer.Option("--vs", metavar="JUNIT...", help="The other side's runs: compare JUNIT... with these, pooled."),
    ] = None,
    kernels: Annotated[
        bool, typer.Option("--kernels", help="Each run's base vs its series, pooled over the runs.")
    ] = False,
    band: Annotated[
        float | None,
        typer.Option(
            min=0,
            max=1,
            help="The noise band an A/A run moves metrics by (a fraction) \\[default: the last A/A in --history,"
            " else 0.02].",
            show_default=False,
        ),
    ] = None,
    history: Annotated[
        Path | None,
        typer.Option(
            "--history", metavar="FILE", help="A run history: each metric's noise band from its last A/A there."
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table, or md (markdown for a CI comment).")] = Format.TABLE,
    versions: series.VersionsOpt = False,
    each: series.EachOpt = None,
    matrix_file: MatrixOpt = None,
    kernel_tree: TreeOpt = None,
    base: BaseOpt = None,
    cache_dir: CacheOpt = None,
) -> Outcome:
    """What changed: regressions, fixes, new and missing tests, and metrics judged by statistics.

    Metrics with 2+ runs a side get medians, a Hodges-Lehmann ratio with a 95% interval, Mann-Whitney p and
    Benjamini-Hochberg q. Exit code 1 when a test or (by the statistics) a metric regressed. With --series,
    JUNIT and JUNIT2 are two versions of a series (directories): their patches paired by patch-id and
    subject, beside git range-diff.
    """
    if versions:
        first, *second = [Path(r) for r in runs]
        return series.versions(
            first, second[0] if second else None, each or [], matrix_file, kernel_tree, base, cache_dir
        )
    bands = noise_bands(history) if band is None else None  # an explicit --band wins over the history
    settings = stats.Settings(band=bands.band if bands else stats.NOISE_BAND if band is None else band)
    found = pooled.compared(runs, vs or [], kernels, settings)
    changes, names = found.changes, (found.before, found.after)
    regressed = Outcome.FAILED if pooled.regressed(found) else Outcome.PASSED
    used = {s.metric: str(b) for s in found.metrics if bands and (b := bands.of(s.metric))}
    if fmt is Format.MD:
        sys.stdout.write(pooled.report(found, used))
        return regressed
    for note in found.notes:
        out.print(note, soft_wrap=True)
    if changes:
        out.print(ui.changes_table(changes, *names))
    else:
        out.print(f"no {'test changed' if found.metrics else 'differences'} between {names[0]} and {names[1]}")
    if found.metrics:
        out.print(ui.stats_table(found.metrics, used))
    return regressed


def noise_bands(history: Path | None) -> noise.Bands | None:
    """The history's A/A bands for compare, when --history names one (UserError: missing, not a history)."""
    from farm.report.history import noise

    return None if history is None else noise.Bands.at(history)


def coverage(
    gcda: Annotated[Path, typer.Option(metavar="DIR", help="The .gcda files a boot copied: CELL/RUNTIME/share/gcov.")],
    build_dir: Annotated[Path, typer.Option("--build", metavar="DIR", help="The kernel's O= directory (.gcno).")],
    series_dir: Annotated[Path, typer.Option("--series", metavar="DIR", help="The series (series file, patches).")],
    tree: Annotated[
        Path | None, typer.Option(metavar="DIR", help="The worktree the farm applied it in: its real line numbers.")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", metavar="DIR", help="Where coverage.md/.html go.")] = Path("."),
    arch: Annotated[str, typer.Option(metavar="ARCH", help="The kernel's arch: which gcc's gcov reads it.")] = "x86_64",
    exceptions: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Reviewed unreachable lines, reported apart.")
    ] = ROOT / "testcases" / "coverage-exceptions.toml",
) -> Outcome:
    """Which of the series' added lines ran: per patch executed/executable, and the lines never executed.

    Exit code 1 when fewer than 90% of the added executable lines in mm/ ran.
    """
    from farm import coverage as series_coverage
    from farm.report import coverage_page

    patches = series_coverage.series_patches(series_dir, tree)
    written = series_coverage.report(gcda, build_dir, patches, arches.get(arch), out_dir, str(gcda), exceptions)
    sys.stdout.write(written.markdown.read_text(encoding="utf-8"))
    out.print(f"written: {written.markdown} {written.html}")
    mm = written.coverage.tally(prefix="mm/").percent
    return Outcome.FAILED if mm is None or mm < coverage_page.GOAL else Outcome.PASSED
