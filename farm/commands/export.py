"""`zpfarm export`: what CI databases take (KCIDB, patchwork checks), validated, never sent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from farm import outbound
from farm.commands.common import BisectOpt, BuildEachOpt, Command, Group, JunitArg, SeriesOpt, out
from farm.report import kcidb

app = typer.Typer(
    cls=Group, no_args_is_help=True, help="Results for CI databases, validated; kci-dev or pwclient submits them."
)
OutputOpt = Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="Where the JSON goes.")]


@app.command("kcidb", cls=Command)
def export_kcidb(
    junit: JunitArg,
    origin: Annotated[str, typer.Option("--origin", metavar="ORIGIN", help="Your KCIDB origin ([a-z0-9_]+).")],
    output: OutputOpt,
    series: SeriesOpt = None,
    git_url: Annotated[str, typer.Option("--git-url", metavar="URL", help="https URL of the base tree.")] = "",
    branch: Annotated[str, typer.Option("--branch", metavar="NAME", help="The base tree's branch.")] = "",
    expectations: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="expectations.toml: the known issues xfails are incidents of."),
    ] = None,
) -> None:
    """A KCIDB v5.3 submission of a run, validated against the schema before it is written.

    Submit it with `kci-dev submit build --from-json FILE`.
    """
    source = kcidb.Source(origin, git_url, branch)
    known = outbound.expectations(expectations)
    doc = outbound.kcidb_export(junit, outbound.series(series), source, known, output)
    out.print(f"{output}: {outbound.summary(doc)}; valid KCIDB {kcidb.MAJOR}.{kcidb.MINOR}", soft_wrap=True)


@app.command("pw-checks", cls=Command)
def pw_checks(
    junit: JunitArg,
    output: OutputOpt,
    series: SeriesOpt = None,
    build_each: BuildEachOpt = None,
    bisect_log: BisectOpt = None,
    context: Annotated[str, typer.Option(metavar="PREFIX", help="Contexts are PREFIX-CELL.")] = "zpfarm",
    url: Annotated[str | None, typer.Option(metavar="URL", help="target_url of every check.")] = None,
) -> None:
    """One patchwork check (CheckCreate) per patch and cell: fail only for the patch build-each or bisect blames.

    Post each with `pwclient check-create` or git-pw; zpfarm holds no token.
    """
    found = outbound.find(junit, build_each or [], bisect_log)
    items = outbound.pw_checks(found, outbound.series(series), context, url, output)
    states = sorted({i["check"]["state"] for i in items})
    out.print(f"{output}: {len(items)} checks ({', '.join(states)})", soft_wrap=True)
