"""What every command shares: the consoles, the option types, and the helpers that check a path,
open the cache, lock a results directory and load the matrix.

A command raises UserError (bad input) or InfraError and returns its outcome (a Report, an
Outcome or None); cli.py alone turns errors and outcomes into exit codes.
"""

from __future__ import annotations

import signal
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperArgument, TyperCommand, TyperGroup

from farm import cellrun, pipeline, ui
from farm.host.cache import Cache, default_root
from farm.model import matrix as matrix_mod
from farm.model.arches import Accel
from farm.model.errors import UserError, ZpfarmError
from farm.model.results import Report, Status, Suite
from farm.report import junit

if TYPE_CHECKING:
    from farm.judge import triage
    from farm.report.history.earlier import Mark

ROOT = Path(__file__).resolve().parent.parent.parent  # the project: the embedded matrix, testcases

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class Outcome(IntEnum):
    """A command's verdict when it has no Report: its exit code."""

    PASSED = 0
    FAILED = 1
    BAD_INPUT = 2
    INFRA = 3


class Format(StrEnum):
    TABLE = "table"
    MD = "md"


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP: stop as Ctrl-C does, exit 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _untyped_flags(params: list[Any]) -> list[Any]:
    """--help rows show no Python types: Typer would print <bool> beside a flag (--help, --debug, ...)
    and <path> or <list[Path]> beside an argument, whose metavar (DIR, JUNIT...) already names it."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        if isinstance(param, TyperArgument):
            setattr(param, "display_type_rich", _no_type)  # noqa: B010 (a method of this one object)
    return params


def _no_type(ctx: Any) -> None:
    return None


class Command(TyperCommand):
    """Every zpfarm command: Typer's, with flags shown without a type."""

    def get_params(self, ctx: Any) -> list[Any]:  # ctx: Typer's own (vendored) click.Context
        return _untyped_flags(super().get_params(ctx))


class SidesCommand(Command):
    """`--vs B1 B2 ...` takes every word up to the next option (a shell-expanded glob stays on its side)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spread("--vs", args))


def spread(option: str, args: list[str]) -> list[str]:
    """args with `option A B` written as `option A option B` (up to the next option or `--`)."""
    out: list[str] = []
    taking = False
    for i, a in enumerate(args):
        if a == "--":
            return out + args[i:]
        if a == option:
            taking = True
        elif taking and not a.startswith("-"):
            out.append(option)
        else:
            taking = False
        if a != option:
            out.append(a)
    return out


class Group(TyperGroup):
    """Every zpfarm command group: Typer's, with flags shown without a type."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))


def error(message: str) -> None:
    """One line on stderr, printed as it is (never read as markup, never wrapped)."""
    err.print(Text.assemble(("error: ", "red"), message), soft_wrap=True)


def warn(message: str) -> None:
    err.print(Text.assemble(("warning: ", "yellow"), message), soft_wrap=True)


def default_matrix() -> Path:
    local = Path("matrix.toml")
    return local if local.is_file() else ROOT / "matrix.toml"


MatrixOpt = Annotated[
    Path | None,
    typer.Option(
        "--matrix",
        "-m",
        envvar="ZPFARM_MATRIX",
        metavar="FILE",
        help="Matrix file (default: ./matrix.toml, else the embedded one).",
    ),
]
CellOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--cell", "-c", metavar="GLOB", help="Only cells matching this glob over CELL or CELL/RUNTIME (repeatable)."
    ),
]
TestOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--test",
        "-t",
        metavar="TEST",
        help="Only this test program (repeatable): a testcases name, a selftest run, or 'selftests'"
        " (`zpfarm tests` lists them).",
    ),
]
TreeOpt = Annotated[
    Path | None,
    typer.Option(
        "--kernel-tree",
        metavar="DIR",
        help="Your own kernel git tree instead of the matrix source (worktrees are made in the cache; "
        "your checkout is never touched).",
    ),
]
BaseOpt = Annotated[
    str | None,
    typer.Option(
        "--base", metavar="REF", help="The ref in --kernel-tree (or the matrix source) the series applies to."
    ),
]
CacheOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache",
        envvar="ZPFARM_CACHE",
        metavar="DIR",
        help="Cache for sources, builds, ccache \\[default: ~/.cache/zpfarm].",
    ),
]
JunitOpt = Annotated[
    Path | None, typer.Option("--junit", metavar="FILE", help="JUnit XML output \\[default: RESULTS/junit.xml].")
]
AccelOpt = Annotated[
    Accel,
    typer.Option(
        "--accel",
        help="kvm, tcg, auto (probe KVM once, fall back to TCG), or icount (TCG whose guest clock counts"
        " instructions: exact timings for benchmarks).",
        case_sensitive=False,
    ),
]
SelftestsOpt = Annotated[
    bool,
    typer.Option("--selftests/--no-selftests", metavar="", help="Also build and run the kernel's mm/memfd selftests."),
]
HistoryOpt = Annotated[
    Path | None,
    typer.Option(
        "--history",
        envvar="ZPFARM_HISTORY",
        metavar="FILE",
        help="The run history (SQLite) this command records into "
        "\\[default: history.sqlite beside the results directory: results/history.sqlite].",
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="Plain progress lines, no live view.")]
# What the reports that leave the farm read (report email, export kcidb and pw-checks).
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
RetriesOpt = Annotated[
    int,
    typer.Option(
        "--retries",
        min=0,
        metavar="N",
        help="Rerun a suite's failed programs up to N times, each in a fresh guest (0: never; also no retry"
        " of a guest the machine failed).",
    ),
]
FailOnFlakyOpt = Annotated[
    bool,
    typer.Option("--fail-on-flaky", metavar="", help="Exit 1 when a test passed only on a rerun (flaky)."),
]


def flaky_gate(report: Report, fail_on_flaky: bool) -> Report | Outcome:
    """The report, or FAILED when it would pass but for its flaky tests and --fail-on-flaky asks so."""
    red = (Status.FAIL, Status.CRASH, Status.BUILD, Status.INFRA, Status.INPUT)
    if fail_on_flaky and report.flaky() and not any(report.count(s) for s in red):
        return Outcome.FAILED
    return report


def writable(path: Path, option: str) -> Path:
    """path as a directory this process can write in (made if missing), or one line naming the option."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):  # a name of its own: jobs sharing the cache check at once
            pass
    except OSError as e:
        raise UserError(f"{option} {path}: not a writable directory ({e.strerror or e})") from None
    return path


def cache(path: Path | None) -> Cache:
    return Cache(writable(path or default_root(), "--cache"))


def results(ctx: typer.Context, path: Path) -> Path:
    """path as this command's results directory, held until the command ends (one writer at a time)."""
    import fcntl

    where = writable(path, "--results")
    lock = (where / ".zpfarm-results.lock").open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise UserError(
            f"--results {path}: another zpfarm command is writing there (give each job its own --results)"
        ) from None
    ctx.call_on_close(lock.close)
    return where


def plain_matrix(path: Path | None) -> matrix_mod.Matrix:
    """The matrix as written, its bases not resolved (no tarball is read)."""
    return matrix_mod.load(path or default_matrix())


def matrix(path: Path | None, cache: Cache, tree: Path | None = None, base: str | None = None) -> matrix_mod.Matrix:
    """The matrix, its source overridden by --kernel-tree/--base, each base resolved to its point release."""
    from farm import resolve

    return resolve.load(path or default_matrix(), cache, tree, base)


def load(
    path: Path | None, cells: list[str] | None, cache: Cache, tree: Path | None = None, base: str | None = None
) -> tuple[matrix_mod.Matrix, tuple[matrix_mod.Cell, ...]]:
    """The resolved matrix (see matrix) and the cells --cell selects."""
    m = matrix(path, cache, tree, base)
    return m, m.select(cells or [])


def reporter(cells: list[str], quiet: bool) -> ui.LiveReporter | ui.PlainReporter:
    """The live table on a terminal, plain lines otherwise (CI logs) or with --quiet."""
    return ui.LiveReporter(out, cells) if out.is_terminal and not quiet else ui.PlainReporter(out)


def junit_written(report: Report, asked: Path) -> None:
    """Where the JUnit is: where it was asked to be, or (a full disk) the spare place it went, said as an error."""
    where = report.junit or asked
    if report.junit_problem:
        error(f"{report.junit_problem}: the JUnit is at {where} instead")
    out.print(f"JUnit: {where}", soft_wrap=True)


@dataclass(frozen=True)
class Recording:
    """Where a command records its results in the run history, and as which command.

    before: where the history stood when the command started, for verdicts that ask it
    (None: not asked, or no history to ask).
    """

    history: Path
    command: str  # run, test, merge, build-each, bisect-step, host-test
    before: Mark | None = None


def recording(history: Path | None, results_dir: Path | None, command: str, verdicts: bool = False) -> Recording:
    """--history, else history.sqlite beside the results directory (results/history.sqlite by default).

    verdicts: the command's summary judges its results by the runs recorded before it starts.
    """
    from farm.report import history as runs
    from farm.report.history import earlier

    path = history or (runs.default_path(results_dir) if results_dir else runs.DEFAULT)
    return Recording(path, command, earlier.mark(path) if verdicts else None)


def judged_by(where: Recording, suites: Sequence[Suite]) -> triage.History | None:
    """What the verdicts of suites ask of the history, answered from the runs before this command's
    (None: no history to ask; the verdicts then say "failed", and recording says why, once)."""
    from farm.report.history import earlier

    return earlier.answers(where.before, suites)


def remember(where: Recording, suites: Sequence[Suite] = (), junit_files: Sequence[Path] = ()) -> None:
    """Record suites (or JUnit files, each a run) in the history; one warning line when it cannot, never an error.

    A locked, damaged or read-only history costs the command neither its JUnit nor its exit code.
    """
    from farm.report import history as runs

    meta = runs.RunMeta(where.command, host=runs.host_facts())
    warning = runs.keep(where.history, suites, meta) if suites else None
    warning = warning or (runs.keep_junit(where.history, junit_files, meta) if junit_files else None)
    if warning:
        warn(warning)


@contextmanager
def job(junit_path: Path, report: Report, record: Recording | None = None) -> Iterator[None]:
    """A long job's errors and interruptions leave a trace: a JUnit file saying why, one line.

    An error before the first suite never replaces an earlier run's JUnit: it goes beside it.
    The error or interruption goes on up to cli.py, which exits with its code. With record,
    the suites that finished go into the run history however the job ended.
    """
    try:
        yield
    except ZpfarmError as e:
        if report.suites:
            raise
        raise type(e)(f"{e}{_error_junit(junit_path, e)}") from e
    except KeyboardInterrupt:
        written = f"; JUnit: {report.junit} (unfinished suites marked interrupted)" if report.junit else ""
        what = f"{len(report.suites)} suites finished{written}"
        err.print(Text.assemble(("interrupted: ", "yellow"), what), soft_wrap=True)  # one line in CI logs
        raise
    finally:
        if record is not None:
            remember(record, report.suites)


def _error_junit(junit_path: Path, e: ZpfarmError) -> str:
    """A JUnit file saying why a run could not start, beside any earlier one; where it went."""
    where = pipeline.early_junit(junit_path)
    try:
        junit.write(where, [Suite("zpfarm", (cellrun.stage_error("setup", e),), {}, "", datetime.now(UTC), 0.0)])
    except ZpfarmError as problem:
        return f" (no JUnit written: {problem})"
    return f" (JUnit: {where})"
