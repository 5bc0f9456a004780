"""zpfarm: build, boot and test kernels with and without the shmem zero-page series.

The application: it composes the command modules (farm/commands/), and it alone turns their
errors and outcomes into exit codes (EXIT_CODES below). Every error is one line on stderr,
printed as it is (never read as markup, never wrapped).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer

from farm.commands import bisect, ci, export, history, host, report, repro, run, series, show
from farm.commands.common import Command, Group, Interrupted, Outcome, SidesCommand, error, out
from farm.model.errors import UserError, ZpfarmError
from farm.model.results import Report, Status

EXIT_CODES = """Exit codes: 0 all passed · 1 a test failed or crashed, or a kernel does not build · 2 bad input ·
3 infrastructure failure · 130/143/129 interrupted (Ctrl-C, SIGTERM, SIGHUP)."""
# What each outcome exits with, most important first.
_EXIT_BY_STATUS = (
    (Status.INPUT, Outcome.BAD_INPUT),
    (Status.INFRA, Outcome.INFRA),
    (Status.FAIL, Outcome.FAILED),
    (Status.CRASH, Outcome.FAILED),
    (Status.BUILD, Outcome.FAILED),
)


def exit_code(report: Report) -> int:
    """0 passed; 1 a test failed or crashed, or a kernel does not build; 2 bad input; 3 infrastructure."""
    for status, code in _EXIT_BY_STATUS:
        if report.count(status) or (status is Status.INFRA and report.junit_problem):
            return int(code)
    return 0


class Zpfarm(Group):
    """The root command: every command's error and outcome becomes its exit code here."""

    def invoke(self, ctx: Any) -> Any:  # Typer's own (vendored) click.Context
        try:
            outcome = super().invoke(ctx)
        except ZpfarmError as e:
            fail(ctx, e)
        except KeyboardInterrupt as e:
            raise typer.Exit(128 + (e.signum if isinstance(e, Interrupted) else signal.SIGINT)) from None
        if isinstance(outcome, Report):
            raise typer.Exit(exit_code(outcome))
        if isinstance(outcome, Outcome):
            raise typer.Exit(int(outcome))
        return outcome


def fail(ctx: typer.Context, e: ZpfarmError) -> NoReturn:
    """One line, exit 2 (bad input) or 3 (infrastructure); the traceback before it with --debug."""
    if ctx.obj is not None and ctx.obj.get("debug"):
        import traceback

        traceback.print_exception(e, file=sys.stderr)
    error(str(e))
    raise typer.Exit(2 if isinstance(e, UserError) else 3) from None


app = typer.Typer(
    cls=Zpfarm,
    rich_markup_mode="rich",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=f"A virtualized kernel test farm for the shmem zero-page series.\n\n{EXIT_CODES}",
    pretty_exceptions_enable=False,
    add_completion=True,
)


def _version(asked: bool) -> None:
    if asked:
        from farm.host import provenance

        out.print(f"zpfarm {provenance.zpfarm()}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", metavar="", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", metavar="", callback=_version, is_eager=True, help="Print zpfarm's version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = {"debug": debug}


# The commands, in the order --help lists them.
app.command("run", cls=Command)(run.run)
app.command("build-each", cls=Command)(run.build_each)
app.command("sweep", cls=Command)(run.sweep)
app.command("matrix", cls=Command)(show.show_matrix)
app.command("tests", cls=Command)(show.tests)
app.command("compare", cls=SidesCommand)(show.compare)
app.command("coverage", cls=Command)(show.coverage)
app.command("plan", cls=Command)(ci.plan)
app.command("build", cls=Command)(ci.build)
app.command("test", cls=Command)(ci.test)
app.command("merge", cls=Command)(ci.merge)
app.add_typer(ci.pipelines, name="ci")
app.add_typer(history.app, name="history")
app.add_typer(report.app, name="report")
app.command("bisect", cls=Command)(bisect.bisect)
app.command("bisect-step", hidden=True, cls=Command)(bisect.bisect_step)
app.command("host-test", cls=Command)(host.host_test)
app.command("doctor", cls=Command)(show.doctor)
app.add_typer(series.app, name="series")
app.add_typer(repro.app, name="repro")
app.add_typer(report.app, name="report")
app.add_typer(export.app, name="export")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def main() -> None:
    # SIGTERM (what CI sends on cancel or timeout) and SIGHUP stop a run as Ctrl-C does.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as e:  # Click's usage errors: one line too (its box wraps at 80 columns in CI logs)
        context, show_help = getattr(e, "ctx", None), getattr(e, "show", None)
        if context is not None and type(e).__name__ != "NoArgsIsHelpError":
            error(f"{e.format_message()} (see {context.command_path} --help)")
        elif show_help is not None:
            show_help()  # help for a bare `zpfarm`
        else:
            error(e.format_message())
        sys.exit(e.exit_code)
    except typer.Abort:
        sys.exit(128 + signal.SIGINT)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
