"""bisect, and the hidden step git bisect run calls."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from farm import pipeline, ui
from farm.commands.common import (
    AccelOpt,
    BaseOpt,
    CacheOpt,
    HistoryOpt,
    MatrixOpt,
    Outcome,
    cache,
    err,
    error,
    load,
    matrix,
    out,
    recording,
    remember,
    results,
)
from farm.model.arches import Accel
from farm.model.errors import UserError, ZpfarmError

CLI = Path(__file__).resolve().parent.parent.parent / "cli.py"


def _zpfarm_argv() -> list[str]:
    """How to call this CLI again from a child process (git bisect run)."""
    script = Path(sys.executable).parent / "zpfarm"
    return [str(script)] if script.is_file() else [sys.executable, str(CLI)]


def bisect(
    ctx: typer.Context,
    cell: Annotated[str | None, typer.Option("--cell", "-c", metavar="GLOB", help="The one cell to bisect in.")] = None,
    test: Annotated[
        str | None,
        typer.Option("--test", "-t", metavar="TEST", help="A program (coherence) or leaves (coherence.rfc*)."),
    ] = None,
    good: Annotated[
        str | None, typer.Option(metavar="REF", help="Known-good ref \\[default: the matrix base].")
    ] = None,
    bad: Annotated[str | None, typer.Option(metavar="REF", help="Known-bad ref \\[default: the series tip].")] = None,
    runs: Annotated[int, typer.Option(min=1, help="Runs per step, for flaky tests.")] = 1,
    threshold: Annotated[int, typer.Option(min=1, help="A step is bad when this many runs fail.")] = 1,
    resume: Annotated[bool, typer.Option(metavar="", help="Continue an interrupted bisect.")] = False,
    reset: Annotated[bool, typer.Option(metavar="", help="Abandon the bisect and clean up.")] = False,
    matrix_file: MatrixOpt = None,
    results_dir: Annotated[Path, typer.Option("--results", metavar="DIR", help="Step logs and JUnit.")] = Path(
        "results/bisect"
    ),
    accel: AccelOpt = Accel.AUTO,
    cache_dir: CacheOpt = None,
    history: HistoryOpt = None,
) -> Outcome:
    """Find the first commit (by default: the first patch of the series) that breaks TEST.

    Drives [bold]git bisect run[/] in the farm's own worktree; each step builds, boots and
    runs the test in CELL. A step whose build or boot fails is skipped (125), not bad.
    """
    from farm import bisect as bisecting

    c = cache(cache_dir)
    m = matrix(matrix_file, c)
    tree = bisecting.worktree(m, c)
    if reset:
        bisecting.reset(tree)
        out.print("bisect reset")
        return Outcome.PASSED
    if resume:
        state = bisecting.State.load(results_dir / bisecting.STATE)
        if note := bisecting.moved(state, m):
            out.print(note, soft_wrap=True)
    elif cell is None or test is None:
        raise UserError("--cell and --test are needed to start a bisect")
    else:
        chosen = [test.split(".", 1)[0]]
        pipeline.options(m, m.select([cell]), c, results_dir, results_dir / "junit.xml", tests=chosen)
        step = bisecting.step_argv(_zpfarm_argv(), m, c, accel, runs, threshold, results(ctx, results_dir))
        step += ["--history", str(recording(history, results_dir, "bisect-step").history.resolve())]
        state = bisecting.begin(m, c, cell, test, good, bad, step, results_dir)
    on = f" on {state.base}" if state.base else ""
    out.print(f"bisecting {state.test} in {state.cell}{on}: good {state.good[:12]}, bad {state.bad[:12]}")
    outcome = bisecting.run(tree, state.step, results_dir / "steps.jsonl", results_dir / "bisect.log")
    out.print(ui.bisect_table(outcome, results_dir / "bisect.log"))
    if outcome.first_bad is None:
        error("git bisect ended without a first bad commit (see the log)")
        return Outcome.FAILED
    out.print(Text.assemble(("first bad commit: ", "bold"), f"{outcome.first_bad} {outcome.subject}"))
    out.print(f"reproduce: zpfarm bisect --cell {state.cell} --test {state.test} "
              f"--good {outcome.first_bad}~1 --bad {outcome.first_bad}", soft_wrap=True)  # fmt: skip
    return Outcome.PASSED


def bisect_step(
    cell: Annotated[str, typer.Option("--cell")],
    test: Annotated[str, typer.Option("--test")],
    checkout: Annotated[Path, typer.Option("--checkout")],
    results_dir: Annotated[Path, typer.Option("--results")],
    runs: Annotated[int, typer.Option("--runs")] = 1,
    threshold: Annotated[int, typer.Option("--threshold")] = 1,
    matrix_file: MatrixOpt = None,
    base: BaseOpt = None,
    accel: AccelOpt = Accel.AUTO,
    cache_dir: CacheOpt = None,
    history: HistoryOpt = None,
) -> None:
    """One git bisect step: exit 0 good, 1 bad, 125 skip (git bisect run's protocol, not the farm's codes)."""
    import time

    from farm import bisect as bisecting

    started = time.monotonic()
    try:
        c = cache(cache_dir)
        m, cells = load(matrix_file, [cell], c, base=base)
        where = bisecting.step_results(checkout, results_dir)
        tests = [test.split(".", 1)[0]]
        opts = pipeline.options(m, cells, c, where, where / "junit.xml", accel=accel, tests=tests, checkout=checkout)
        verdict, why = bisecting.step(opts, ui.PlainReporter(err), test, runs, threshold)
        remember(recording(history, results_dir, "bisect-step"), junit_files=sorted(where.glob("run*/junit.xml")))
    except UserError as e:
        verdict, why = bisecting.SKIP, str(e)
    except ZpfarmError as e:
        error(str(e))
        raise typer.Exit(200) from None  # outside 1..127: git bisect run aborts
    bisecting.record(results_dir.parent / "steps.jsonl", checkout, verdict, why, time.monotonic() - started)
    err.print(f"zpfarm bisect-step: {why}", markup=False)
    raise typer.Exit(verdict)
