"""host-test: the guest tests on a real kernel, no VM."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from farm import ui
from farm.commands.common import (
    CacheOpt,
    HistoryOpt,
    MatrixOpt,
    TestOpt,
    cache,
    out,
    plain_matrix,
    recording,
    remember,
    results,
)
from farm.model.matrix import Kernel
from farm.model.results import Report, Suite


def host_test(
    ctx: typer.Context,
    matrix_file: MatrixOpt = None,
    test: TestOpt = None,
    kernel: Annotated[Kernel, typer.Option(help="Judge as base or series (which expectations apply).")] = Kernel.BASE,
    ssh: Annotated[
        str | None,
        typer.Option(
            metavar="[USER@]HOST[:PORT]",
            help="Run on that machine's kernel instead (key auth, host in ~/.ssh/known_hosts; root there).",
        ),
    ] = None,
    accept_new_host_key: Annotated[
        bool,
        typer.Option(metavar="", help="Trust an SSH host not in ~/.ssh/known_hosts, and record its key there."),
    ] = False,
    results_dir: Annotated[Path, typer.Option("--results", metavar="DIR", help="Directory for logs.")] = Path(
        "results/host"
    ),
    cache_dir: CacheOpt = None,
    history: HistoryOpt = None,
) -> Report:
    """Run the guest tests on a real kernel, no VM: this machine's (as root) or another's over SSH.

    [bold]Examples[/]
      zpfarm host-test -t memory                     this machine, judged as base
      zpfarm host-test --ssh root@arm-board --kernel series
    """
    from farm import hosttest
    from farm.guest import selection
    from farm.host.remote import Target

    m = plain_matrix(matrix_file)
    chosen = selection.select(m.testcases_dir, test or ())
    target = None if ssh is None else Target.parse(ssh)  # "" is an error, never this host
    cases = hosttest.run(
        m,
        cache(cache_dir),
        results(ctx, results_dir),
        kernel,
        chosen.testcases(),
        target,
        accept_new_host_key=accept_new_host_key,
    )
    where = f"{target}'s kernel" if target else "this host's kernel"
    out.print(ui.cases_table(cases, f"testcases on {where}, judged as {kernel}"))
    machine = str(target) if target else platform.node()  # in the history: cell host-test, runtime the machine
    suite = Suite(f"host-test/{machine}", tuple(cases), {"kernel": kernel.value}, "", datetime.now(UTC), 0.0)
    remember(recording(history, results_dir, "host-test"), [suite])
    return Report([suite])
