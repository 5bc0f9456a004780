"""`zpfarm report`: what a person reads of a run (the reply mail to the series' thread)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from farm import outbound
from farm.commands.common import Command, Group, out
from farm.report import reply

app = typer.Typer(cls=Group, no_args_is_help=True, help="Reports a person reads: the reply mail to a series.")

JunitArg = Annotated[Path, typer.Argument(metavar="JUNIT", help="The JUnit file of a zpfarm run.")]
SeriesOpt = Annotated[
    Path | None,
    typer.Option("--series", metavar="FILE", help="series.json: the thread to answer, the version and the patches."),
]
BuildEachOpt = Annotated[
    list[Path] | None,
    typer.Option("--build-each", metavar="JUNIT", help="build-each's JUnit: the first patch that fails (repeatable)."),
]
BisectOpt = Annotated[
    Path | None, typer.Option("--bisect-log", metavar="FILE", help="git bisect's log: the first bad commit.")
]


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

    A clean run ends with Tested-by (b4 applies it to every patch); a failure with the
    "| Reported-by:" / "| Closes:" block b4 leaves alone. Nothing is sent.
    """
    signer = reply.identity(identity, "--from")
    found = outbound.find(junit, build_each or [], bisect_log)
    written = outbound.email(found, outbound.series(series), signer, output)
    verdict = "clean: Tested-by" if written.clean else f"{len(found.regressions)} regressions"
    to = f", in reply to {written.in_reply_to}" if written.in_reply_to else ", not in a thread (no --series)"
    out.print(f"{output}: {verdict}{to}", soft_wrap=True)
