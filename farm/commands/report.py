"""The reports people read: `zpfarm report html` (an HTML page of runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from farm.commands.common import Command, Group, out
from farm.host import files
from farm.model.errors import UserError
from farm.report import html as page
from farm.report import pooled
from farm.report.past import History

app = typer.Typer(cls=Group, no_args_is_help=True, help="Reports of runs for people to read.")


def open_history(path: Path) -> History:
    """The run history file as the report reads it (farm.report.past.History)."""
    raise UserError(f"--history {path}: this zpfarm keeps no run history yet")


def html(
    runs: Annotated[
        list[str], typer.Argument(metavar="JUNIT", help="JUnit files (or quoted globs), one per run, oldest first.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="The page to write.")] = Path(
        "report.html"
    ),
    history: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", envvar="ZPFARM_HISTORY", help="The run history: the last 30 runs of each test, trends."
        ),
    ] = None,
    title: Annotated[str, typer.Option(help="The page's title.")] = "zpfarm report",
) -> None:
    """One static HTML page (no script, no network): the matrix of cell x runtime with base and series side by
    side, the last runs of each failing or flaky test, the metrics with their intervals, and each failure's KTAP
    and console excerpt.
    """
    paths = pooled.expand(runs)
    past = open_history(history) if history is not None else None
    files.writable_file(output, "--output")
    files.atomic_write(output, page.render(page.page(paths, past, title)).encode())
    out.print(f"report: {output}", soft_wrap=True)


app.command("html", cls=Command)(html)
