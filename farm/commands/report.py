"""`zpfarm report`: what a person reads of a run (the reply mail to the series' thread)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from farm import outbound
from farm.commands.common import BisectOpt, BuildEachOpt, Command, Group, JunitArg, SeriesOpt, out
from farm.report import reply

app = typer.Typer(cls=Group, no_args_is_help=True, help="Reports a person reads: the reply mail to a series.")


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
