"""The series from a mailing list: import it, lint it before posting."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from farm.commands.common import CacheOpt, Command, Group, JunitOpt, Outcome, cache, matrix, out, warn
from farm.model.errors import UserError
from farm.model.results import Report
from farm.report import junit

VersionsOpt = Annotated[
    bool,
    typer.Option(
        "--series", metavar="", help="Compare two versions of a series: JUNIT and JUNIT2 are their directories."
    ),
]
EachOpt = Annotated[
    list[Path] | None,
    typer.Option("--each", metavar="JUNIT", help="With --series: build-each's JUnit of each version, in order."),
]
app = typer.Typer(
    cls=Group, no_args_is_help=True, help="A series from a mailing list: import it, lint it before posting."
)


def import_series(
    source: Annotated[
        str,
        typer.Argument(
            metavar="SOURCE",
            help="msgid:ID, a lore or patch.msgid.link URL, mbox:FILE, pw:SERIES_ID (git-pw) or a series directory.",
        ),
    ],
    out_dir: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="The new series directory.")],
    msgid: Annotated[
        str | None, typer.Option("--msgid", metavar="ID", help="In an mbox of several threads: this one's.")
    ] = None,
    revision: Annotated[
        int | None,
        typer.Option("--revision", "-v", metavar="N", help="This version of the series \\[default: newest]."),
    ] = None,
) -> None:
    """Write the series SOURCE points at as a series directory: patches, `series`, series.json.

    Through b4 (`b4 --offline-mode am -Q` of the thread's mbox): the newest version, with the
    trailers its replies collected (never those quoted with a leading `| `). series.json holds
    the cover letter's Message-ID, subject, version, change-id, base-commit and prerequisites,
    and per patch its Message-ID, `git patch-id --stable` and trailers. Without a network, a
    network SOURCE fails in one line (exit 3).

    [bold]Examples[/]
      zpfarm series import msgid:20261201-shmem-zero-v2-0-abc@example.org -o kernel-series/v2
      zpfarm series import mbox:thread.mbox -o kernel-series/from-list
    """
    from farm import seriesimport

    done = seriesimport.import_series(source, out_dir, msgid=msgid, revision=revision, notice=out.print)
    info = done.info
    out.print(f"{info.subject}: v{info.revision}, {len(info.patches)} patches in {done.directory}", soft_wrap=True)
    if info.base_commit is None:
        warn("no base-commit: in the posting: `zpfarm run --series` tests it on the matrix base")


def lint(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="A series directory (series file, patches).")],
    kernel_tree: Annotated[
        Path | None,
        typer.Option("--kernel-tree", metavar="DIR", help="A kernel tree whose scripts/checkpatch.pl to run."),
    ] = None,
    junit_file: JunitOpt = None,
    cache_dir: CacheOpt = None,
) -> Report:
    """Is the series ready to post? base-commit: and change-id: in its cover letter, checkpatch on every patch.

    checkpatch runs as `b4 prep --check` runs it, from --kernel-tree, else a kernel tree the farm
    imported (the cache's source/), else /usr/src/linux-*. An ERROR fails the patch; warnings are
    listed on its passing case. One JUnit case per check (default: results/lint/junit.xml).
    """
    from farm import serieslint

    suite = serieslint.lint(directory, serieslint.default_trees(cache(cache_dir), kernel_tree, directory))
    report = Report()
    junit.append(report, suite, junit_file or Path("results/lint/junit.xml"))
    for case in suite.cases:
        out.print(f"{case.status.value:5} {case.name}" + (f": {case.message}" if case.message else ""), soft_wrap=True)
    return report


def versions(
    first: Path,
    second: Path | None,
    each: list[Path],
    matrix_file: Path | None,
    tree: Path | None,
    base: str | None,
    cache_dir: Path | None,
) -> Outcome:
    """compare --series: exit 1 when a patch's build-each result went from good to bad."""
    from farm import seriesdiff

    if second is None:
        raise UserError("compare --series needs two series directories: the older version, then the newer")
    c = cache(cache_dir)
    m = matrix(matrix_file, c, tree, base) if tree or matrix_file else None
    done = seriesdiff.compare_versions(first, second, each, m, c)
    out.print(done.text, soft_wrap=True, markup=False, end="")
    return Outcome.FAILED if done.regressed else Outcome.PASSED


app.command("import", cls=Command)(import_series)
app.command("lint", cls=Command)(lint)
