"""zpfarm: build, boot and test kernels with and without the shmem zero-page series.

Thin Typer commands: parse options, call farm.*, render, exit. Only this file
turns outcomes and errors into exit codes (EXIT_CODES below); every error is
one line on stderr, printed as it is (never read as markup, never wrapped).
"""

from __future__ import annotations

import json
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from farm import coverage as farm_coverage
from farm import pipeline, ui
from farm.host.cache import Cache, default_root
from farm.model import arches
from farm.model import matrix as matrix_mod
from farm.model.arches import Accel
from farm.model.errors import UserError, ZpfarmError
from farm.model.matrix import Kernel
from farm.model.results import Report, Status, Suite
from farm.report import compare, coverage_page, junit

EXIT_CODES = """Exit codes: 0 all passed · 1 a test failed or crashed, or a kernel does not build · 2 bad input ·
3 infrastructure failure · 130/143/129 interrupted (Ctrl-C, SIGTERM, SIGHUP)."""
# What each outcome exits with, most important first.
_EXIT_BY_STATUS = (
    (Status.INPUT, 2),
    (Status.INFRA, 3),
    (Status.FAIL, 1),
    (Status.CRASH, 1),
    (Status.BUILD, 1),
)
HERE = Path(__file__).resolve().parent

app = typer.Typer(
    rich_markup_mode="rich",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=f"A virtualized kernel test farm for the shmem zero-page series.\n\n{EXIT_CODES}",
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP: stop as Ctrl-C does, exit 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Format(StrEnum):
    TABLE = "table"
    MD = "md"


class Stage(StrEnum):
    BUILD = "build"
    TEST = "test"


@dataclass(frozen=True)
class Settings:
    debug: bool = False


def exit_code(report: Report) -> int:
    """0 passed; 1 a test failed or crashed, or a kernel does not build; 2 bad input; 3 infrastructure."""
    for status, code in _EXIT_BY_STATUS:
        if report.count(status):
            return code
    return 0


def _default_matrix() -> Path:
    local = Path("matrix.toml")
    return local if local.is_file() else HERE / "matrix.toml"


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
        help="Only this test program (repeatable): a testcases name, a selftest run, or 'selftests'.",
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
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="Plain progress lines, no live view.")]


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
    ctx.obj = Settings(debug=debug)


def _error(message: str) -> None:
    err.print(Text.assemble(("error: ", "red"), message), soft_wrap=True)


def fail(ctx: typer.Context, e: ZpfarmError) -> NoReturn:
    """One line, exit 2 (bad input) or 3 (infrastructure); the traceback before it with --debug."""
    if ctx.obj is not None and ctx.obj.debug:
        import traceback

        traceback.print_exception(e, file=sys.stderr)
    _error(str(e))
    raise typer.Exit(2 if isinstance(e, UserError) else 3) from None


@contextmanager
def _errors(ctx: typer.Context) -> Iterator[None]:
    """A short command's errors: one line and the exit code."""
    try:
        yield
    except ZpfarmError as e:
        fail(ctx, e)


@contextmanager
def _job(ctx: typer.Context, junit_path: Path, report: Report) -> Iterator[None]:
    """A long job's errors and interruptions: one line, a JUnit file saying why, the exit code.

    An error before the first suite never replaces an earlier run's JUnit: it goes beside it.
    """
    try:
        yield
    except ZpfarmError as e:
        fail(ctx, e if report.suites else type(e)(f"{e}{_error_junit(junit_path, e)}"))
    except KeyboardInterrupt as e:
        code = 128 + (e.signum if isinstance(e, Interrupted) else signal.SIGINT)
        written = f"; JUnit: {report.junit} (unfinished suites marked interrupted)" if report.junit else ""
        what = f"{len(report.suites)} suites finished{written}"
        err.print(Text.assemble(("interrupted: ", "yellow"), what), soft_wrap=True)  # one line in CI logs
        raise typer.Exit(code) from None


def _error_junit(junit_path: Path, e: ZpfarmError) -> str:
    """A JUnit file saying why a run could not start, beside any earlier one; where it went."""
    where = pipeline.early_junit(junit_path)
    try:
        junit.write(where, [Suite("zpfarm", (pipeline.stage_error("setup", e),), {}, "", datetime.now(UTC), 0.0)])
    except ZpfarmError as problem:
        return f" (no JUnit written: {problem})"
    return f" (JUnit: {where})"


def _writable(path: Path, option: str) -> Path:
    """path as a directory this process can write in (made if missing), or one line naming the option."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):  # a name of its own: jobs sharing the cache check at once
            pass
    except OSError as e:
        raise UserError(f"{option} {path}: not a writable directory ({e.strerror or e})") from None
    return path


def _cache(path: Path | None) -> Cache:
    return Cache(_writable(path or default_root(), "--cache"))


def _results(ctx: typer.Context, path: Path) -> Path:
    """path as this command's results directory, held until the command ends (one writer at a time)."""
    import fcntl

    where = _writable(path, "--results")
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


def _matrix(path: Path | None, cache: Cache, tree: Path | None = None, base: str | None = None) -> matrix_mod.Matrix:
    """The matrix, its source overridden by --kernel-tree/--base, each base resolved to its point release."""
    from farm import resolve

    return resolve.load(path or _default_matrix(), cache, tree, base)


def _load(
    path: Path | None, cells: list[str] | None, cache: Cache, tree: Path | None = None, base: str | None = None
) -> tuple[matrix_mod.Matrix, tuple[matrix_mod.Cell, ...]]:
    """The resolved matrix (see _matrix) and the cells --cell selects."""
    m = _matrix(path, cache, tree, base)
    return m, m.select(cells or [])


def _reporter(cells: list[str], quiet: bool) -> ui.LiveReporter | ui.PlainReporter:
    """The live table on a terminal, plain lines otherwise (CI logs) or with --quiet."""
    return ui.LiveReporter(out, cells) if out.is_terminal and not quiet else ui.PlainReporter(out)


@app.command("matrix")
def show_matrix(
    ctx: typer.Context,
    matrix: MatrixOpt = None,
    cell: CellOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", metavar="", help="Print JSON to stdout instead of a table.")
    ] = False,
) -> None:
    """List the cells a run would build and boot."""
    with _errors(ctx):
        m = matrix_mod.load(matrix or _default_matrix())
        cells = m.select(cell or [])
    if as_json:
        sys.stdout.write(json.dumps(ui.cells_json(cells), indent=2) + "\n")
    else:
        out.print(ui.cells_table(m, cells))


@app.command("tests")
def list_tests(ctx: typer.Context, matrix: MatrixOpt = None) -> None:
    """List every name --test takes: the testcases, the selftest runs and the series' own selftests.

    A selftest name also selects the runs it is the prefix of (selftests-mm-uffd-unit-tests: each
    group); 'selftests' selects all of them.
    """
    from farm.guest import selection

    with _errors(ctx):
        m = matrix_mod.load(matrix or _default_matrix())
        names = selection.known(m.testcases_dir, pipeline.new_selftests(m, m.cells))
    sys.stdout.write("".join(f"{name}\n" for name in [*names, selection.SELFTESTS]))


@app.command()
def run(
    ctx: typer.Context,
    matrix: MatrixOpt = None,
    cell: CellOpt = None,
    test: TestOpt = None,
    junit_file: JunitOpt = None,
    results: Annotated[
        Path, typer.Option("--results", metavar="DIR", help="Directory for this run's logs, consoles and JUnit.")
    ] = Path("results/latest"),
    accel: AccelOpt = Accel.AUTO,
    kernel_tree: TreeOpt = None,
    base: BaseOpt = None,
    cache: CacheOpt = None,
    quiet: QuietOpt = False,
    with_selftests: SelftestsOpt = True,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            metavar="N",
            help="Guests at once \\[default: what the cores and memory hold at the guest's size].",
        ),
    ] = None,
) -> None:
    """Build every selected cell, boot it once per runtime variant, run the tests, write JUnit.

    [bold]Examples[/]
      zpfarm run                                   the whole default matrix
      zpfarm run --cell 'series-x86_64-thp-on'     one cell, all its runtime variants
      zpfarm run --cell '*x86_64-thp-off*' -t memory
      zpfarm run --kernel-tree ~/linux --base v6.12 -c 'series-x86_64-*'
    """
    junit_path = junit_file or results / "junit.xml"
    report = Report()
    with _job(ctx, junit_path, report):
        c = _cache(cache)
        m, cells = _load(matrix, cell, c, kernel_tree, base)
        opts = pipeline.options(
            m,
            cells,
            c,
            _results(ctx, results),
            junit_path,
            accel=accel,
            tests=test or (),
            selftests=with_selftests,
            jobs=jobs,
        )
        reporter = _reporter([c.name for c in cells], quiet)
        with reporter.shown():
            pipeline.run(opts, reporter, report=report)
    ui.print_summary(out, report, junit_path)
    for problem in report.problems(Status.INPUT):
        _error(problem)
    out.print(f"JUnit: {junit_path}", soft_wrap=True)
    raise typer.Exit(exit_code(report))


@app.command("build-each")
def build_each_cmd(
    ctx: typer.Context,
    matrix: MatrixOpt = None,
    cell: CellOpt = None,
    junit_file: JunitOpt = None,
    results: Annotated[
        Path, typer.Option("--results", metavar="DIR", help="Directory for the step logs and JUnit.")
    ] = Path("results/build-each"),
    kernel_tree: TreeOpt = None,
    base: BaseOpt = None,
    cache: CacheOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Build the series one patch at a time in each series cell: is every step bisectable?

    The base is built first, then each patch in order, in the cell's own build
    directory, so every step recompiles what one patch changed. A patch fails when
    its build fails or its compile prints a warning. No guest boots.

    [bold]Examples[/]
      zpfarm build-each                              every series cell of the matrix
      zpfarm build-each --cell 'series-arm64-*'
    """
    from farm import build_each

    junit_path = junit_file or results / "junit.xml"
    report = Report()
    with _job(ctx, junit_path, report):
        c = _cache(cache)
        m, cells = _load(matrix, cell, c, kernel_tree, base)
        opts = pipeline.options(m, cells, c, _results(ctx, results), junit_path)
        reporter = _reporter([c.name for c in cells if c.kernel is Kernel.SERIES], quiet)
        with reporter.shown():
            build_each.check(opts, reporter, report)
    out.print(ui.build_each_table(report))
    out.print(f"JUnit: {junit_path}", soft_wrap=True)
    raise typer.Exit(exit_code(report))


@app.command("sweep")
def sweep_cmd(
    ctx: typer.Context,
    matrix: MatrixOpt = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="GLOB",
            help="Only TOOLCHAIN/CONFIG pairs matching (repeatable): 'x86_64-gcc/allnoconfig'.",
        ),
    ] = None,
    junit_file: JunitOpt = None,
    results: Annotated[
        Path, typer.Option("--results", metavar="DIR", help="Directory for the compile logs and JUnit.")
    ] = Path("results/sweep"),
    kernel_tree: TreeOpt = None,
    base: BaseOpt = None,
    cache: CacheOpt = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", metavar="N", help="make -jN \\[default: every core].", show_default=False)
    ] = 0,
    nice: Annotated[int, typer.Option("--nice", metavar="N", help="Run make under nice -n N.")] = 10,
    quiet: QuietOpt = False,
) -> None:
    """Compile the objects each patch touches under many configs and toolchains (a 0-day-style sweep).

    The matrix's \\[sweep] table says which: allnoconfig, tinyconfig, defconfig,
    allmodconfig and seeded randconfigs (biased to toggle the CONFIG_ options the
    series' files test), gcc on six arches and clang-16 on two. Each config is
    prepared once at the base and kept in the cache. A patch fails when one of
    its objects does not compile, or prints a W=1 warning the base does not; a
    missing compiler is skipped, naming its package. Every case has a reproducer.

    [bold]Examples[/]
      zpfarm sweep                                     the matrix's whole sweep
      zpfarm sweep --only 'x86_64-gcc/allnoconfig' --only 'x86_64-gcc/defconfig'
      zpfarm sweep --only '*-clang/*' -j 2
    """
    from farm import sweep

    junit_path = junit_file or results / "junit.xml"
    report = Report()
    with _job(ctx, junit_path, report):
        c = _cache(cache)
        m = _matrix(matrix, c, kernel_tree, base)
        opts = sweep.options(m, c, _results(ctx, results), junit_path, tuple(only or ()), jobs, nice)
        reporter = _reporter(sweep.rows(opts), quiet)
        with reporter.shown():
            sweep.run(opts, reporter, report)
    out.print(ui.sweep_table(report))
    out.print(f"JUnit: {junit_path}", soft_wrap=True)
    raise typer.Exit(exit_code(report))


@app.command("compare")
def compare_cmd(
    ctx: typer.Context,
    before: Annotated[
        Path, typer.Argument(metavar="JUNIT", help="A JUnit file from zpfarm run (alone: its base vs its series).")
    ],
    after: Annotated[
        Path | None, typer.Argument(metavar="[JUNIT2]", help="A second JUnit file: compare JUNIT with it.")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table, or md (markdown for a CI comment).")] = Format.TABLE,
) -> None:
    """What changed: regressions, fixes, new and missing tests, numbers that moved.

    Exit code 1 when anything regressed.
    """
    with _errors(ctx):
        found = compare.files(before, after)
    changes, names = found.changes, (found.before, found.after)
    if fmt is Format.MD:
        sys.stdout.write("".join(f"**{note}**\n\n" for note in found.notes) + compare.markdown(changes, *names))
        raise typer.Exit(1 if any(c.kind is compare.Kind.REGRESSION for c in changes) else 0)
    for note in found.notes:
        out.print(note, soft_wrap=True)
    if changes:
        out.print(ui.changes_table(changes, *names))
    else:
        out.print(f"no differences between {names[0]} and {names[1]}")
    if any(c.kind is compare.Kind.REGRESSION for c in changes):
        raise typer.Exit(1)


@app.command("coverage")
def coverage_cmd(
    ctx: typer.Context,
    gcda: Annotated[Path, typer.Option(metavar="DIR", help="The .gcda files a boot copied: CELL/RUNTIME/share/gcov.")],
    build_dir: Annotated[Path, typer.Option("--build", metavar="DIR", help="The kernel's O= directory (.gcno).")],
    series_dir: Annotated[Path, typer.Option("--series", metavar="DIR", help="The series (series file, patches).")],
    tree: Annotated[
        Path | None, typer.Option(metavar="DIR", help="The worktree the farm applied it in: its real line numbers.")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", metavar="DIR", help="Where coverage.md/.html go.")] = Path("."),
    arch: Annotated[str, typer.Option(help="The kernel's arch: which gcc's gcov reads it.")] = "x86_64",
    exceptions: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Reviewed unreachable lines, reported apart.")
    ] = HERE / "testcases" / "coverage-exceptions.toml",
) -> None:
    """Which of the series' added lines ran: per patch executed/executable, and the lines never executed.

    Exit code 1 when fewer than 90% of the added executable lines in mm/ ran.
    """
    with _errors(ctx):
        patches = farm_coverage.series_patches(series_dir, tree)
        written = farm_coverage.report(gcda, build_dir, patches, arches.get(arch), out_dir, str(gcda), exceptions)
    sys.stdout.write(written.markdown.read_text(encoding="utf-8"))
    out.print(f"written: {written.markdown} {written.html}")
    mm = written.coverage.tally(prefix="mm/").percent
    if mm is None or mm < coverage_page.GOAL:
        raise typer.Exit(1)


@app.command("plan")
def plan_cmd(
    ctx: typer.Context,
    matrix: MatrixOpt = None,
    cell: CellOpt = None,
    runner: Annotated[
        list[str] | None,
        typer.Option(metavar="ARCH=LABEL,...[@MACHINE]", help="CI runner labels for an arch's rows (repeatable)."),
    ] = None,
    stage: Annotated[Stage | None, typer.Option(help='Print only this stage\'s {"include": [...]} rows.')] = None,
    cache: CacheOpt = None,
) -> None:
    """Print the build and test rows a CI engine's matrix expands (JSON on stdout).

    A build row is one kernel, named by its build key (a hash of arch, compiler, kconfig
    fragments, base and series); a test row is one CELL/RUNTIME booting one build.
    """
    from farm import plan

    with _errors(ctx):
        m, cells = _load(matrix, cell, _cache(cache))
        runners = {**plan.DEFAULT_RUNNERS, **dict(plan.parse_runner(spec) for spec in runner or ())}
        rows = plan.make(m, cells, runners=runners)
        plan.check(rows)
    sys.stdout.write(rows.to_json(None if stage is None else plan.Stage(stage.value)) + "\n")


@app.command("build")
def build_cmd(
    ctx: typer.Context,
    key: Annotated[str, typer.Option("--key", "-k", metavar="KEY", help="A build key from `zpfarm plan`.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Where KEY.tar.zst goes.")] = Path("dist"),
    matrix: MatrixOpt = None,
    cache: CacheOpt = None,
    with_selftests: SelftestsOpt = True,
) -> None:
    """Build one kernel of the plan and pack it as DIR/KEY.tar.zst (kernel, .config, guest programs).

    Exit 1 when the kernel does not build (no artifact is written).
    """
    from farm import steps

    with _errors(ctx):
        artifact_key = steps.check_key(key)  # it names directories: checked before any is made
        c = _cache(cache)
        m = _matrix(matrix, c)
        logs = _writable(out_dir / "logs" / artifact_key, "--out")
        opts = pipeline.options(m, m.cells, c, logs, logs / "junit.xml", selftests=with_selftests)
        done = steps.build_artifact(m, opts, artifact_key, _writable(out_dir, "--out"), ui.PlainReporter(err))
    if done.artifact is None:
        _error(f"the kernel does not build: {done.built.message} (log: {done.built.log})")
        raise typer.Exit(1)
    out.print(f"{done.artifact}", soft_wrap=True)


@app.command("test")
def test_cmd(
    ctx: typer.Context,
    cell: Annotated[str, typer.Option("--cell", "-c", metavar="CELL/RUNTIME", help="The one suite to run.")],
    kernel: Annotated[Path, typer.Option("--kernel", metavar="FILE", help="KEY.tar.zst from `zpfarm build`.")],
    junit_file: JunitOpt = None,
    results: Annotated[Path, typer.Option("--results", metavar="DIR", help="Logs and consoles.")] = Path(
        "results/test"
    ),
    test: TestOpt = None,
    accel: AccelOpt = Accel.AUTO,
    matrix: MatrixOpt = None,
    cache: CacheOpt = None,
    with_selftests: SelftestsOpt = True,
) -> None:
    """Boot one CELL/RUNTIME from a kernel artifact and run its tests; never builds.

    The JUnit has the suite as `zpfarm run` writes it (accel used, reproducer, log path).
    """
    from farm import steps

    junit_path = junit_file or results / "junit.xml"
    report = Report()
    with _job(ctx, junit_path, report):
        c = _cache(cache)
        m = _matrix(matrix, c)
        cells = steps.one_suite(m, cell)
        opts = pipeline.options(
            m,
            cells,
            c,
            _results(ctx, results),
            junit_path,
            accel=accel,
            tests=test or (),
            selftests=with_selftests,
        )
        steps.test_artifact(opts, kernel, ui.PlainReporter(out), report)
    out.print(f"JUnit: {junit_path}", soft_wrap=True)
    raise typer.Exit(exit_code(report))


@app.command("merge")
def merge_cmd(
    ctx: typer.Context,
    files: Annotated[list[Path] | None, typer.Argument(metavar="[JUNIT]...", help="Per-job JUnit files.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="The merged JUnit.")] = Path(
        "junit.xml"
    ),
    expect_from: Annotated[
        Path | None, typer.Option(metavar="PLAN", help="A `zpfarm plan` file: every test row must have a suite.")
    ] = None,
    expect: Annotated[list[str] | None, typer.Option(metavar="SUITE", help="A suite that must be there.")] = None,
) -> None:
    """Merge per-job JUnit files into one; a planned suite with no file is an <error> suite (job lost).

    Exit 0 when the file was written (lost jobs are errors in it, for `zpfarm compare` and the CI's test report).
    """
    from farm.report import merge

    with _errors(ctx):
        expected = [*(expect or ()), *(merge.expected_suites(expect_from) if expect_from else ())]
        merged = merge.merge(files or [], output, expected)
    for note in merged.notes:
        err.print(Text.assemble(("warning: ", "yellow"), note), soft_wrap=True)
    for suite in merged.lost:
        _error(merge.lost_message(suite))
    out.print(f"{len(merged.suites)} suites ({len(merged.lost)} lost) in {output}", soft_wrap=True)


ci_app = typer.Typer(
    no_args_is_help=True, help="Print a CI pipeline that runs the matrix as plan, build, test, report."
)
app.add_typer(ci_app, name="ci")


@ci_app.command("github")
def ci_github() -> None:
    """The GitHub Actions workflow (ci/github/zpfarm.yml holds a copy: put it in .github/workflows/)."""
    from farm.ci import github

    sys.stdout.write(github.workflow())


@ci_app.command("gitlab")
def ci_gitlab(
    ctx: typer.Context,
    child: Annotated[
        Path | None, typer.Option(metavar="PLAN", help="Print the child pipeline of this plan instead.")
    ] = None,
) -> None:
    """The GitLab CI pipeline (ci/gitlab/.gitlab-ci.yml holds a copy); --child PLAN: the jobs of one plan."""
    from farm import plan
    from farm.ci import gitlab

    with _errors(ctx):
        text = gitlab.pipeline() if child is None else gitlab.child(plan.load(child))
    sys.stdout.write(text)


def _zpfarm_argv() -> list[str]:
    """How to call this CLI again from a child process (git bisect run)."""
    script = Path(sys.executable).parent / "zpfarm"
    return [str(script)] if script.is_file() else [sys.executable, str(Path(__file__).resolve())]


@app.command()
def bisect(
    ctx: typer.Context,
    cell: Annotated[str | None, typer.Option("--cell", "-c", metavar="GLOB", help="The one cell to bisect in.")] = None,
    test: Annotated[
        str | None,
        typer.Option("--test", "-t", metavar="TEST", help="A program (coherence) or leaves (coherence.rfc*)."),
    ] = None,
    good: Annotated[
        str | None, typer.Option(metavar="REF", help="Known-good ref \\[default: the matrix base].")
    ] = None,
    bad: Annotated[str | None, typer.Option(metavar="REF", help="Known-bad ref \\[default: the series tip].")] = None,
    runs: Annotated[int, typer.Option(min=1, help="Runs per step, for flaky tests.")] = 1,
    threshold: Annotated[int, typer.Option(min=1, help="A step is bad when this many runs fail.")] = 1,
    resume: Annotated[bool, typer.Option(metavar="", help="Continue an interrupted bisect.")] = False,
    reset: Annotated[bool, typer.Option(metavar="", help="Abandon the bisect and clean up.")] = False,
    matrix: MatrixOpt = None,
    results: Annotated[Path, typer.Option(metavar="DIR", help="Step logs and JUnit.")] = Path("results/bisect"),
    accel: AccelOpt = Accel.AUTO,
    cache: CacheOpt = None,
) -> None:
    """Find the first commit (by default: the first patch of the series) that breaks TEST.

    Drives [bold]git bisect run[/] in the farm's own worktree; each step builds, boots and
    runs the test in CELL. A step whose build or boot fails is skipped (125), not bad.
    """
    from farm import bisect as bisecting

    with _errors(ctx):
        c = _cache(cache)
        m = _matrix(matrix, c)
        tree = bisecting.worktree(m, c)
        if reset:
            bisecting.reset(tree)
            out.print("bisect reset")
            return
        if resume:
            state = bisecting.State.load(results / bisecting.STATE)
            if note := bisecting.moved(state, m):
                out.print(note, soft_wrap=True)
        elif cell is None or test is None:
            raise UserError("--cell and --test are needed to start a bisect")
        else:
            pipeline.options(m, m.select([cell]), c, results, results / "junit.xml", tests=[test.split(".", 1)[0]])
            step = bisecting.step_argv(_zpfarm_argv(), m, c, accel, runs, threshold, _results(ctx, results))
            state = bisecting.begin(m, c, cell, test, good, bad, step, results)
        on = f" on {state.base}" if state.base else ""
        out.print(f"bisecting {state.test} in {state.cell}{on}: good {state.good[:12]}, bad {state.bad[:12]}")
        outcome = bisecting.run(tree, state.step, results / "steps.jsonl", results / "bisect.log")
    out.print(ui.bisect_table(outcome, results / "bisect.log"))
    if outcome.first_bad is None:
        _error("git bisect ended without a first bad commit (see the log)")
        raise typer.Exit(1)
    out.print(Text.assemble(("first bad commit: ", "bold"), f"{outcome.first_bad} {outcome.subject}"))
    out.print(f"reproduce: zpfarm bisect --cell {state.cell} --test {state.test} "
              f"--good {outcome.first_bad}~1 --bad {outcome.first_bad}", soft_wrap=True)  # fmt: skip


@app.command("bisect-step", hidden=True)
def bisect_step(
    ctx: typer.Context,
    cell: Annotated[str, typer.Option("--cell")],
    test: Annotated[str, typer.Option("--test")],
    checkout: Annotated[Path, typer.Option("--checkout")],
    results: Annotated[Path, typer.Option("--results")],
    runs: Annotated[int, typer.Option("--runs")] = 1,
    threshold: Annotated[int, typer.Option("--threshold")] = 1,
    matrix: MatrixOpt = None,
    base: BaseOpt = None,
    accel: AccelOpt = Accel.AUTO,
    cache: CacheOpt = None,
) -> None:
    """One git bisect step: exit 0 good, 1 bad, 125 skip (git bisect run's protocol)."""
    import time

    from farm import bisect as bisecting

    started = time.monotonic()
    try:
        c = _cache(cache)
        m, cells = _load(matrix, [cell], c, base=base)
        where = bisecting.step_results(checkout, results)
        tests = [test.split(".", 1)[0]]
        opts = pipeline.options(m, cells, c, where, where / "junit.xml", accel=accel, tests=tests, checkout=checkout)
        verdict, why = bisecting.step(opts, ui.PlainReporter(err), test, runs, threshold)
    except UserError as e:
        verdict, why = bisecting.SKIP, str(e)
    except ZpfarmError as e:
        _error(str(e))
        raise typer.Exit(200) from None  # outside 1..127: git bisect run aborts
    bisecting.record(results.parent / "steps.jsonl", checkout, verdict, why, time.monotonic() - started)
    err.print(f"zpfarm bisect-step: {why}", markup=False)
    raise typer.Exit(verdict)


@app.command("host-test")
def host_test(
    ctx: typer.Context,
    matrix: MatrixOpt = None,
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
    results: Annotated[Path, typer.Option(metavar="DIR", help="Directory for logs.")] = Path("results/host"),
    cache: CacheOpt = None,
) -> None:
    """Run the guest tests on a real kernel, no VM: this machine's (as root) or another's over SSH.

    [bold]Examples[/]
      zpfarm host-test -t memory                     this machine, judged as base
      zpfarm host-test --ssh root@arm-board --kernel series
    """
    from farm import hosttest
    from farm.guest import selection
    from farm.host.remote import Target

    with _errors(ctx):
        m = matrix_mod.load(matrix or _default_matrix())
        chosen = selection.select(m.testcases_dir, test or ())
        target = None if ssh is None else Target.parse(ssh)  # "" is an error, never this host
        cases = hosttest.run(
            m,
            _cache(cache),
            _results(ctx, results),
            kernel,
            chosen.testcases(),
            target,
            accept_new_host_key=accept_new_host_key,
        )
    where = f"{target}'s kernel" if target else "this host's kernel"
    out.print(ui.cases_table(cases, f"testcases on {where}, judged as {kernel}"))
    raise typer.Exit(exit_code(Report([Suite("host", tuple(cases), {}, "", datetime.now(UTC), 0.0)])))


@app.command()
def doctor(ctx: typer.Context, matrix: MatrixOpt = None, cache: CacheOpt = None) -> None:
    """Check this host: tools, packages, the matrix's kernel sources, KVM, disk; say what to install."""
    from farm.doctor import checks

    with _errors(ctx):
        results = checks(_cache(cache), matrix_mod.load(matrix or _default_matrix()).sources)
    out.print(ui.doctor_table(results))
    missing = [c for c in results if not c.ok]
    if missing:
        _error(f"{len(missing)} missing: " + "; ".join(f"{c.name} ({c.fix})" for c in missing))
        raise typer.Exit(3)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def main() -> None:
    # SIGTERM (what CI sends on cancel or timeout) and SIGHUP stop a run as Ctrl-C does.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as e:  # Click's usage errors: one line too (its box wraps at 80 columns in CI logs)
        context, show = getattr(e, "ctx", None), getattr(e, "show", None)
        if context is not None and type(e).__name__ != "NoArgsIsHelpError":
            _error(f"{e.format_message()} (see {context.command_path} --help)")
        elif show is not None:
            show()  # help for a bare `zpfarm`
        else:
            _error(e.format_message())
        sys.exit(e.exit_code)
    except typer.Abort:
        sys.exit(128 + signal.SIGINT)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
