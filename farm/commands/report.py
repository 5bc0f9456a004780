"""`zpfarm report`: what a person reads of runs: the reply mail to the series' thread, an HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from farm import outbound
from farm.commands.common import BisectOpt, BuildEachOpt, Command, Group, JunitArg, SeriesOpt, out
from farm.host import files
from farm.report import html as page
from farm.report import pooled, reply
from farm.report.history import History
from farm.report.history.past_view import PastView

app = typer.Typer(
    cls=Group, no_args_is_help=True, help="Reports a person reads: the reply mail to a series, a page of runs."
)


@app.command("email", cls=Command)
def email(
    junit: JunitArg,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="Where the mail goes (.eml).")],
    series: SeriesOpt = None,
    build_each: BuildEachOpt = None,
    bisect_log: BisectOpt = None,
    identity: Annotated[
        str | None,
        typer.Option("--from", envvar="ZPFARM_IDENTITY", metavar="'NAME <ADDR>'", help="Who signs (and is From:)."),
    ] = None,
) -> None:
    """A plain-text reply to the series' thread: what was tested, each regression, the trailers.

    Clean: a Tested-by that b4 applies to every patch. A failure: a quoted | Reported-by block b4 leaves alone.
    Nothing is sent."""
    signer = reply.identity(identity, "--from")
    found = outbound.find(junit, build_each or [], bisect_log)
    written = outbound.email(found, outbound.series(series), signer, output)
    verdict = "clean: Tested-by" if written.clean else f"{len(found.regressions)} regressions"
    to = f", in reply to {written.in_reply_to}" if written.in_reply_to else ", not in a thread (no --series)"
    out.print(f"{output}: {verdict}{to}", soft_wrap=True)


def open_history(path: Path) -> PastView:
    """The run history file as the report reads it (farm.report.past.History); it must exist."""
    return PastView(History.open(path, create=False))


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
    title: Annotated[str, typer.Option(metavar="TEXT", help="The page's title.")] = "zpfarm report",
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
