"""`zpfarm repro`: a reproducer that travels (one suite or test of a run, as a directory that reruns it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from farm import ui
from farm.commands.common import CacheOpt, Command, Group, MatrixOpt, cache, err, matrix, out

app = typer.Typer(
    cls=Group, no_args_is_help=True, help="A reproducer that travels: one suite or test of a run, rerun anywhere."
)


def make(
    target: Annotated[
        str, typer.Argument(metavar="CELL/RUNTIME[/TEST]", help="The suite, and optionally one test (a program).")
    ],
    out_dir: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="The bundle's directory: new, or empty.")],
    junit_file: Annotated[
        Path | None, typer.Option("--junit", metavar="FILE", help="The run's JUnit \\[default: RESULTS/junit.xml].")
    ] = None,
    results_dir: Annotated[
        Path, typer.Option("--results", metavar="DIR", help="The run's results directory (its KTAP and consoles).")
    ] = Path("results/latest"),
    with_kernel: Annotated[
        bool,
        typer.Option(
            "--with-kernel", metavar="", help="Put the kernel artifact in (packed from this machine's build)."
        ),
    ] = False,
    kernel: Annotated[
        Path | None,
        typer.Option(
            "--kernel", metavar="FILE", help="The artifact the run booted (`zpfarm test`); implies --with-kernel."
        ),
    ] = None,
    matrix_file: MatrixOpt = None,
    cache_dir: CacheOpt = None,
) -> None:
    """Write a directory that reruns one suite (or one test of it) of a run, on any machine.

    It holds reproduce.sh, a one-cell matrix.toml with relative paths, the series (with patch-ids),
    the fragments and testcases, the .config, manifest.json, the KTAP and console excerpt, SHA256SUMS,
    and with --with-kernel the kernel artifact (then reproduce.sh boots it: `zpfarm test`, no build).

    [bold]Examples[/]
      zpfarm repro make series-x86_64-thp-on/default/zeropage -o repro-zeropage --with-kernel
      (cd repro-zeropage && ./reproduce.sh)
    """
    from farm import repro, repro_suite

    spec = repro_suite.Target.parse(target)  # names that become paths: checked before anything is read
    c = cache(cache_dir)
    m = matrix(matrix_file, c)
    junit = junit_file or results_dir / "junit.xml"
    reporter = ui.PlainReporter(err)
    bundle = repro.make(m, c, spec, junit, results_dir, out_dir, reporter, with_kernel=with_kernel, kernel=kernel)
    out.print(f"{bundle.directory}: {len(bundle.files)} files; its reproduce.sh runs:", soft_wrap=True, markup=False)
    out.print(f"  {bundle.command}  (the run's exit: {bundle.expected_exit})", soft_wrap=True, markup=False)


app.command("make", cls=Command)(make)
