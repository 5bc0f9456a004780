"""history: what earlier runs say about a test, the flaky tests, and CI artifacts into the history.

`zpfarm history TEST` is `zpfarm history show TEST`: a first word that is not a subcommand is a test name.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from farm.commands.common import Command, Group, HistoryOpt, out
from farm.model.errors import UserError
from farm.report import history as runs


class _TestOrCommand(Group):
    """`history TEST ...` runs `history show TEST ...`: test names are never subcommand names."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["show", *args]
        parsed: list[str] = super().parse_args(ctx, args)
        return parsed


app = typer.Typer(
    cls=_TestOrCommand,
    no_args_is_help=True,
    help="The run history: every run's outcomes in one SQLite file (--history, $ZPFARM_HISTORY, "
    "default results/history.sqlite). `zpfarm history TEST` shows one test.",
)
LastOpt = Annotated[
    int, typer.Option("--last", "-n", min=1, metavar="M", help="The window: a test's last M counted runs.")
]
JsonOpt = Annotated[bool, typer.Option("--json", metavar="", help="Print JSON to stdout instead of lines.")]
GlobOpt = Annotated[
    str, typer.Option("--cell", "-c", metavar="GLOB", help="Only suites matching this glob over CELL or CELL/RUNTIME.")
]


def _open(history: Path | None) -> runs.History:
    return runs.History.open(history or runs.DEFAULT, create=False)


@app.command("show", cls=Command)
def show(
    test: Annotated[str, typer.Argument(metavar="TEST", help="The test's full name, as in the JUnit.")],
    cell: GlobOpt = "*",
    last: LastOpt = runs.DEFAULT_LAST,
    base: Annotated[
        str | None, typer.Option(metavar="BASE", help="Only runs on this base: a line (v7.3) or a release.")
    ] = None,
    history: HistoryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One test per suite: its trend, streak, first failing run and its series, fail rate (Wilson 95%).

    [bold]Examples[/]
      zpfarm history 'coherence.read_then_remote_write[memfd,shared]'
      zpfarm history memory.read_hole --cell 'series-*' --last 10
    """
    with _open(history) as found:
        summaries = found.summaries(test, cell, last, base)
        if not summaries:
            like = found.tests_like(test.split("[", 1)[0])
            where = f"--cell {cell!r}" + (f" on base {base}" if base else "")
            if test in like:
                raise UserError(f"{test!r}: no outcome in {found.path} for {where} (it ran elsewhere)")
            hint = f" (tests named like it: {', '.join(like)})" if like else ""
            raise UserError(f"{test!r}: no outcome in {found.path}{hint}")
    if as_json:
        sys.stdout.write(json.dumps([_jsonable(s, said=str(s)) for s in summaries], indent=2) + "\n")
        return
    for summary in summaries:
        _print_summary(summary, last)


def _jsonable(value: object, **extra: str) -> dict[str, Any]:
    """A history value as JSON: statuses and trends by their names' values."""
    found: dict[str, Any] = dataclasses.asdict(value)  # type: ignore[call-overload]
    return json.loads(json.dumps(found, default=lambda v: v.value)) | extra  # type: ignore[no-any-return]


def _print_summary(s: runs.Summary, last: int) -> None:
    counted = [o for o in s.outcomes if o.counted]
    window = counted[-last:]
    out.print(Text.assemble((s.test, "bold"), " in ", s.suite), soft_wrap=True)
    out.print(f"  {s}", soft_wrap=True)
    if window:
        span = f"runs {window[0].run}-{window[-1].run}" if len(window) > 1 else f"run {window[0].run}"
        strip = "".join(o.letter for o in window)
        out.print(f"  last {len(window)}: {strip} ({span}; P pass, F failed, f passed on a rerun)", soft_wrap=True)
        what = "failed" if window[-1].failed else "passed"
        runs_word = "run" if s.streak == 1 else f"{s.streak} runs"
        out.print(f"  streak: {what} in the last {runs_word}", soft_wrap=True)
        failures = [o for o in counted if o.failed]
        if failures:
            streak = s.trend in (runs.Trend.REGRESSION, runs.Trend.FAILING) and s.since is not None
            first = s.since if streak and s.since is not None else failures[0]  # the streak's, else the first ever
            out.print(f"  first failing run: {first.run} ({runs.run_label(first)})", soft_wrap=True)
        out.print(f"  fail rate: {s.rate}", soft_wrap=True)


@app.command("flaky", cls=Command)
def flaky(
    last: LastOpt = runs.DEFAULT_LAST, cell: GlobOpt = "*", history: HistoryOpt = None, as_json: JsonOpt = False
) -> None:
    """The tests that passed and failed on one kernel (or passed on a rerun) over the history's last M runs."""
    with _open(history) as found:
        tests, total = found.flaky(last, cell), found.runs()
    if as_json:
        sys.stdout.write(json.dumps([_jsonable(t, said=str(t.rate)) for t in tests], indent=2) + "\n")
        return
    if not tests:
        out.print(f"no flaky test in the last {min(last, total)} of {total} runs", soft_wrap=True)
        return
    out.print(f"flaky tests over the last {min(last, total)} of {total} runs:", soft_wrap=True)
    for t in tests:  # plain lines: a name to copy into `zpfarm history TEST`, whole in any CI log
        said = f"  {t.rate}, {t.flips} flips, last failed in run {t.last_failure}: {t.test} in {t.suite}"
        out.print(Text(said), soft_wrap=True)


@app.command("ingest", cls=Command)
def ingest(
    files: Annotated[list[Path], typer.Argument(metavar="JUNIT...", help="JUnit files: each one run, in order.")],
    history: HistoryOpt = None,
) -> None:
    """Record JUnit files (CI artifacts) in the history, each as one run; a file seen before adds nothing.

    Every file is checked before any is recorded: a file that is not a sane JUnit is one error line (exit 2).
    """
    with runs.History.open(history or runs.DEFAULT) as found:
        done = found.ingest(files)
        total = found.runs()
    for d in done:
        said = f"run {d.run}: {d.suites} suites, {d.cases} cases" if d.run else "already in the history"
        out.print(f"{d.source}: {said}" + (f" ({d.repeated} suites seen before)" if d.run and d.repeated else ""))
    out.print(f"{total} runs in {history or runs.DEFAULT}", soft_wrap=True)
