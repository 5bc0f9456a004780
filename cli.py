"""zpfarm: build, boot and test kernels with and without the shmem zero-page series.

Thin Typer commands: parse options, call farm.*, render, exit. Only this file
turns errors into exit codes:
  0 every test passed (known failures and skips included)
  1 a test failed or crashed, or a kernel panicked
  2 bad input: matrix.toml, an option, a patch that does not apply
  3 infrastructure: a tool is missing, a guest would not boot
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from farm import matrix as matrix_mod
from farm.cache import Cache, default_root
from farm.errors import InfraError, UserError, ZpfarmError

HERE = Path(__file__).resolve().parent
EXIT_CODES = """Exit codes: 0 all passed · 1 a test failed or crashed · 2 bad input · 3 infrastructure failure."""

app = typer.Typer(
    rich_markup_mode="rich",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=f"A virtualized kernel test farm for the shmem zero-page series.\n\n{EXIT_CODES}",
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)
_debug = False


def _default_matrix() -> Path:
    local = Path("matrix.toml")
    return local if local.is_file() else HERE / "matrix.toml"


MatrixOpt = Annotated[
    Path,
    typer.Option("--matrix", "-m", envvar="ZPFARM_MATRIX", help="Matrix file (default: ./matrix.toml, else the embedded one)."),
]
CellOpt = Annotated[
    list[str] | None,
    typer.Option("--cell", "-c", help="Only cells matching this glob over CELL or CELL/RUNTIME (repeatable)."),
]
CacheOpt = Annotated[
    Path | None,
    typer.Option("--cache", envvar="ZPFARM_CACHE", help="Cache for sources, builds, ccache [default: ~/.cache/zpfarm]."),
]


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    global _debug
    _debug = debug


def _fail(e: ZpfarmError) -> typer.Exit:
    code = 2 if isinstance(e, UserError) else 3
    err.print(f"[red]error:[/] {e}", highlight=False)
    return typer.Exit(code)


def _load(path: Path | None, cells: list[str] | None) -> tuple[matrix_mod.Matrix, tuple[matrix_mod.Cell, ...]]:
    m = matrix_mod.load(path or _default_matrix())
    return m, m.select(cells or [])


@app.command("matrix")
def show_matrix(
    matrix: MatrixOpt = None,  # type: ignore[assignment]
    cell: CellOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON to stdout instead of a table.")] = False,
) -> None:
    """List the cells a run would build and boot."""
    try:
        m, cells = _load(matrix, cell)
    except ZpfarmError as e:
        raise _fail(e) from None
    if as_json:
        rows = [
            {
                "cell": c.name,
                "kernel": c.kernel,
                "arch": c.arch.name,
                "kconfig": c.kconfig.name,
                "fragments": [str(f) for f in c.kconfig.fragments],
                "runtimes": [r.name for r in c.runtimes],
            }
            for c in cells
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(title=f"{m.path} — {len(cells)} cells, {sum(len(c.runtimes) for c in cells)} boots")
    for col in ("cell", "kernel", "arch", "kconfig", "runtimes"):
        table.add_column(col)
    for c in cells:
        table.add_row(c.name, c.kernel, c.arch.name, c.kconfig.name, ", ".join(r.name for r in c.runtimes))
    out.print(table)


@app.command()
def run(
    matrix: MatrixOpt = None,  # type: ignore[assignment]
    cell: CellOpt = None,
    test: Annotated[
        list[str] | None, typer.Option("--test", "-t", help="Only these test programs (repeatable).")
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="JUnit XML output [default: RESULTS/junit.xml].")] = None,
    results: Annotated[
        Path, typer.Option(help="Directory for this run's logs, consoles and JUnit.")
    ] = Path("results/latest"),
    accel: Annotated[str, typer.Option(help="kvm, tcg, or auto (probe KVM once, fall back to TCG).")] = "auto",
    cache: CacheOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Plain progress lines, no live view.")] = False,
) -> None:
    """Build every selected cell, boot it once per runtime variant, run the tests, write JUnit.

    [bold]Examples[/]
      zpfarm run                                   the whole default matrix
      zpfarm run --cell 'series-x86_64-thp-on'     one cell, all its runtime variants
      zpfarm run --cell '*x86_64-thp-off*' -t memory
    """
    from farm import run as pipeline
    from farm.progress import LiveReporter, PlainReporter

    junit_path = junit or results / "junit.xml"
    try:
        m, cells = _load(matrix, cell)
        results.mkdir(parents=True, exist_ok=True)
        opts = pipeline.Options(
            matrix=m,
            cells=cells,
            cache=Cache(cache or default_root()),
            out=results,
            junit=junit_path,
            accel=accel,
            tests=tuple(test or ()),
        )
        live = out.is_terminal and not quiet
        reporter = LiveReporter(out, [c.name for c in cells]) if live else PlainReporter(out)
        with reporter.shown():
            report = pipeline.run(opts, reporter)
    except ZpfarmError as e:
        if _debug:
            raise
        _junit_for_error(junit_path, e)
        raise _fail(e) from None
    except KeyboardInterrupt:
        err.print(f"[yellow]interrupted:[/] finished suites are in {junit_path}")
        raise typer.Exit(130) from None
    _print_summary(report)
    for problem in report.user_errors:
        err.print(f"[red]error:[/] {problem}", highlight=False)
    out.print(f"JUnit: {junit_path}")
    raise typer.Exit(report.exit_code)


def _junit_for_error(path: Path, e: ZpfarmError) -> None:
    """Even a run that could not start leaves a valid JUnit file saying why."""
    from farm import junit
    from farm.model import Status, TestResult

    now = datetime.now(UTC)
    case = TestResult("setup", Status.INFRA, str(e))
    junit.write(path, [junit.Suite("zpfarm", (case,), {}, "", now, 0.0)])


def _print_summary(report: "pipeline.Report") -> None:  # type: ignore[name-defined]  # noqa: F821
    from farm.model import Status
    from farm.progress import summary

    table = Table(title="zpfarm results")
    table.add_column("suite")
    table.add_column("results")
    table.add_column("problems", overflow="fold")
    for suite in report.suites:
        bad = [c for c in suite.cases if c.status in (Status.FAIL, Status.CRASH, Status.INFRA)]
        problems = "; ".join(f"{c.name}: {c.message}" for c in bad[:3]) + (" …" if len(bad) > 3 else "")
        table.add_row(suite.name, summary(suite), problems)
    out.print(table)


@app.command()
def doctor(cache: CacheOpt = None) -> None:
    """Check this host: tools, packages, KVM, disk; say what to install."""
    from farm.doctor import checks

    results = checks(Cache(cache or default_root()))
    table = Table(title="zpfarm doctor")
    for col in ("check", "", "detail", "needed by", "fix"):
        table.add_column(col)
    for c in results:
        table.add_row(c.name, "[green]ok[/]" if c.ok else "[red]missing[/]", c.detail, c.needed_by, "" if c.ok else c.fix)
    out.print(table)
    missing = [c for c in results if not c.ok]
    if missing:
        err.print(f"[red]error:[/] {len(missing)} missing: " + "; ".join(f"{c.name} ({c.fix})" for c in missing))
        raise typer.Exit(3)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
