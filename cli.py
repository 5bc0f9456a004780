"""zpfarm: build, boot and test kernels with and without the shmem zero-page series.

Thin Typer commands: parse options, call farm.*, render, exit. Only this file
turns errors into exit codes:
  0 every test passed (known failures and skips included)
  1 a test failed or crashed, or a kernel panicked
  2 bad input: matrix.toml, an option, a patch that does not apply
  3 infrastructure: a tool is missing, a guest would not boot
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from farm import pipeline
from farm.host.cache import Cache, default_root
from farm.model import matrix as matrix_mod
from farm.model.errors import UserError, ZpfarmError
from farm.model.results import Status
from farm.report import compare
from farm.report.junit import Suite
from farm.report.progress import STYLE, LiveReporter, PlainReporter, summary

HERE = Path(__file__).resolve().parent
EXIT_CODES = """Exit codes: 0 all passed · 1 a test failed or crashed · 2 bad input · 3 infrastructure failure."""

app = typer.Typer(
    rich_markup_mode="rich",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=f"A virtualized kernel test farm for the shmem zero-page series.\n\n{EXIT_CODES}",
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)
_debug = False


def _default_matrix() -> Path:
    local = Path("matrix.toml")
    return local if local.is_file() else HERE / "matrix.toml"


MatrixOpt = Annotated[
    Path,
    typer.Option(
        "--matrix", "-m", envvar="ZPFARM_MATRIX", help="Matrix file (default: ./matrix.toml, else the embedded one)."
    ),
]
CellOpt = Annotated[
    list[str] | None,
    typer.Option("--cell", "-c", help="Only cells matching this glob over CELL or CELL/RUNTIME (repeatable)."),
]
TreeOpt = Annotated[
    Path | None,
    typer.Option(
        "--kernel-tree",
        help="Your own kernel git tree instead of the matrix source (worktrees are made in the cache; "
        "your checkout is never touched).",
    ),
]
BaseOpt = Annotated[
    str | None, typer.Option("--base", help="The ref in --kernel-tree (or the matrix source) the series applies to.")
]
CacheOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache", envvar="ZPFARM_CACHE", help="Cache for sources, builds, ccache \\[default: ~/.cache/zpfarm]."
    ),
]


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    global _debug
    _debug = debug


def _fail(e: ZpfarmError) -> typer.Exit:
    code = 2 if isinstance(e, UserError) else 3
    err.print(f"[red]error:[/] {e}", highlight=False)
    return typer.Exit(code)


def _load(
    path: Path | None, cells: list[str] | None, tree: Path | None = None, base: str | None = None
) -> tuple[matrix_mod.Matrix, tuple[matrix_mod.Cell, ...]]:
    """The matrix (its source overridden by --kernel-tree/--base) and the cells --cell selects."""
    m = matrix_mod.with_tree(matrix_mod.load(path or _default_matrix()), tree, base)
    return m, m.select(cells or [])


@app.command("matrix")
def show_matrix(
    matrix: MatrixOpt = None,  # type: ignore[assignment]
    cell: CellOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON to stdout instead of a table.")] = False,
) -> None:
    """List the cells a run would build and boot."""
    try:
        m, cells = _load(matrix, cell)
    except ZpfarmError as e:
        raise _fail(e) from None
    if as_json:
        rows = [
            {
                "cell": c.name,
                "kernel": c.kernel,
                "arch": c.arch.name,
                "kconfig": c.kconfig.name,
                "fragments": [str(f) for f in c.kconfig.fragments],
                "runtimes": [r.name for r in c.runtimes],
            }
            for c in cells
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(title=f"{m.path} — {len(cells)} cells, {sum(len(c.runtimes) for c in cells)} boots")
    for col in ("cell", "kernel", "arch", "kconfig", "runtimes"):
        table.add_column(col)
    for c in cells:
        table.add_row(c.name, c.kernel, c.arch.name, c.kconfig.name, ", ".join(r.name for r in c.runtimes))
    out.print(table)


@app.command()
def run(
    matrix: MatrixOpt = None,  # type: ignore[assignment]
    cell: CellOpt = None,
    test: Annotated[
        list[str] | None, typer.Option("--test", "-t", help="Only these test programs (repeatable).")
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="JUnit XML output \\[default: RESULTS/junit.xml].")] = None,
    results: Annotated[Path, typer.Option(help="Directory for this run's logs, consoles and JUnit.")] = Path(
        "results/latest"
    ),
    accel: Annotated[str, typer.Option(help="kvm, tcg, or auto (probe KVM once, fall back to TCG).")] = "auto",
    kernel_tree: TreeOpt = None,
    base: BaseOpt = None,
    cache: CacheOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Plain progress lines, no live view.")] = False,
    with_selftests: Annotated[
        bool, typer.Option("--selftests/--no-selftests", help="Also build and run the kernel's mm/memfd selftests.")
    ] = True,
) -> None:
    """Build every selected cell, boot it once per runtime variant, run the tests, write JUnit.

    [bold]Examples[/]
      zpfarm run                                   the whole default matrix
      zpfarm run --cell 'series-x86_64-thp-on'     one cell, all its runtime variants
      zpfarm run --cell '*x86_64-thp-off*' -t memory
      zpfarm run --kernel-tree ~/linux --base v6.12 -c 'series-x86_64-*'
    """
    junit_path = junit or results / "junit.xml"
    with _job(junit_path):
        m, cells = _load(matrix, cell, kernel_tree, base)
        results.mkdir(parents=True, exist_ok=True)
        opts = pipeline.Options(
            matrix=m,
            cells=cells,
            cache=Cache(cache or default_root()),
            out=results,
            junit=junit_path,
            accel=accel,
            tests=tuple(test or ()),
            selftests=with_selftests,
        )
        reporter = _reporter([c.name for c in cells], quiet)
        with reporter.shown():
            report = pipeline.run(opts, reporter)
    _print_summary(report, junit_path)
    for problem in report.user_errors:
        err.print(f"[red]error:[/] {problem}", highlight=False)
    out.print(f"JUnit: {junit_path}")
    raise typer.Exit(report.exit_code)


@app.command("build-each")
def build_each_cmd(
    matrix: MatrixOpt = None,  # type: ignore[assignment]
    cell: CellOpt = None,
    junit: Annotated[Path | None, typer.Option(help="JUnit XML output \\[default: RESULTS/junit.xml].")] = None,
    results: Annotated[Path, typer.Option(help="Directory for the step logs and JUnit.")] = Path("results/build-each"),
    kernel_tree: TreeOpt = None,
    base: BaseOpt = None,
    cache: CacheOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Plain progress lines, no live view.")] = False,
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

    junit_path = junit or results / "junit.xml"
    with _job(junit_path):
        m, cells = _load(matrix, cell, kernel_tree, base)
        results.mkdir(parents=True, exist_ok=True)
        opts = pipeline.Options(
            matrix=m, cells=cells, cache=Cache(cache or default_root()), out=results, junit=junit_path
        )
        reporter = _reporter([c.name for c in cells if c.kernel == "series"], quiet)
        with reporter.shown():
            report = build_each.check(opts, reporter)
    table = Table(title="build-each: one build per patch")
    for col in ("cell", "step", "verdict"):
        table.add_column(col, overflow="fold")
    for suite in report.suites:
        for case in suite.cases:
            mark = "[green]ok[/]" if case.status is Status.PASS else f"[red]{case.status.value}[/]"
            table.add_row(suite.name.removeprefix("build-each/"), escape(case.name), f"{mark} {escape(case.message)}")
    out.print(table)
    out.print(f"JUnit: {junit_path}")
    raise typer.Exit(report.exit_code)


def _reporter(cells: Sequence[str], quiet: bool) -> LiveReporter | PlainReporter:
    """The live table on a terminal, plain lines otherwise (CI logs) or with --quiet."""
    return LiveReporter(out, cells) if out.is_terminal and not quiet else PlainReporter(out)


@contextmanager
def _job(junit_path: Path) -> Iterator[None]:
    """A long job's errors: one line, a JUnit file saying why, the exit code."""
    try:
        yield
    except ZpfarmError as e:
        if _debug:
            raise
        _junit_for_error(junit_path, e)
        raise _fail(e) from None
    except KeyboardInterrupt:
        err.print(f"[yellow]interrupted:[/] finished suites are in {junit_path}")
        raise typer.Exit(130) from None


def _junit_for_error(path: Path, e: ZpfarmError) -> None:
    """Even a run that could not start leaves a valid JUnit file saying why."""
    from farm.model.results import Status, TestResult
    from farm.report import junit

    now = datetime.now(UTC)
    case = TestResult("setup", Status.INFRA, str(e))
    junit.write(path, [junit.Suite("zpfarm", (case,), {}, "", now, 0.0)])


def _print_summary(report: pipeline.Report, junit_path: Path) -> None:
    """Per suite: base and series side by side, what the series changed (counted), and its regressions."""
    table = Table(title="zpfarm results: base vs series")
    for col in ("arch-kconfig/runtime", "base", "series", "problems"):
        table.add_column(col, overflow="fold")
    by_key: dict[str, dict[str, Suite]] = {}
    for suite in report.suites:
        kernel, _, key = suite.name.partition("-")
        by_key.setdefault(key, {})[kernel] = suite
    for key, pair in by_key.items():
        bad = [
            f"{k}: {c.name}: {c.message}"
            for k, s in pair.items()
            for c in s.cases
            if c.status in (Status.FAIL, Status.CRASH, Status.INFRA)
        ]
        cells = [summary(pair[k]) if k in pair else "" for k in ("base", "series")]
        more = f"\n… {len(bad) - 3} more" if len(bad) > 3 else ""
        table.add_row(key, *cells, escape("\n".join(bad[:3])) + more)
    out.print(table)
    base, series = compare.split_kernels(compare.from_suites(report.suites))
    changes = compare.diff(base, series)
    if not changes:
        return
    _print_change_counts(changes)
    out.print(f"Every change: zpfarm compare {junit_path}", soft_wrap=True, highlight=False)
    regressions = [c for c in changes if c.kind is compare.Kind.REGRESSION]
    if regressions:
        _print_changes(regressions, "base", "series")


def _print_change_counts(changes: Sequence[compare.Change]) -> None:
    """One row per suite: how many changes of each kind the series made."""
    counts: dict[str, Counter[compare.Kind]] = {}
    for c in changes:
        counts.setdefault(c.suite, Counter())[c.kind] += 1
    table = Table(title="what changed from base to series")
    table.add_column("arch-kconfig/runtime", overflow="fold")
    for kind in compare.Kind:
        table.add_column(kind.value, justify="right")
    for suite, n in counts.items():
        table.add_row(escape(suite), *(str(n[kind] or "") for kind in compare.Kind))
    out.print(table)


def _print_changes(changes: Sequence[compare.Change], before: str, after: str) -> None:
    table = Table(title=f"what changed from {before} to {after}")
    for col in ("change", "suite", "test", before, after):
        table.add_column(col, overflow="fold")
    style = {"regression": "bold red", "fix": "green", "metric": "cyan"}
    for c in changes:
        kind = Text(c.kind.value, style=style.get(c.kind.value, ""))
        table.add_row(kind, *(escape(text) for text in (c.suite, c.test, c.before, c.after)))
    out.print(table)


@app.command("compare")
def compare_cmd(
    before: Annotated[Path, typer.Argument(help="A JUnit file from zpfarm run (alone: its base vs its series).")],
    after: Annotated[Path | None, typer.Argument(help="A second JUnit file: compare BEFORE with it.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, or md (markdown for a CI comment).")] = "table",
) -> None:
    """What changed: regressions, fixes, new and missing tests, numbers that moved.

    Exit code 1 when anything regressed.
    """
    try:
        if fmt not in ("table", "md"):
            raise UserError(f"--format {fmt!r}: expected table or md")
        if after is None:
            old, new = compare.split_kernels(compare.from_junit(before))
            names = ("base", "series")
        else:
            old, new = compare.from_junit(before), compare.from_junit(after)
            names = (before.name, after.name)
    except ZpfarmError as e:
        raise _fail(e) from None
    changes = compare.diff(old, new)
    if fmt == "md":
        sys.stdout.write(compare.markdown(changes, *names))
    elif changes:
        _print_changes(changes, *names)
    else:
        out.print(f"no differences between {names[0]} and {names[1]}")
    if any(c.kind is compare.Kind.REGRESSION for c in changes):
        raise typer.Exit(1)


def _zpfarm_argv() -> list[str]:
    """How to call this CLI again from a child process (git bisect run)."""
    script = Path(sys.executable).parent / "zpfarm"
    return [str(script)] if script.is_file() else [sys.executable, str(Path(__file__).resolve())]


@app.command()
def bisect(
    cell: Annotated[str, typer.Option("--cell", "-c", help="The one cell (CELL or CELL/RUNTIME) to bisect in.")],
    test: Annotated[str, typer.Option("--test", "-t", help="A program (coherence) or leaves (coherence.rfc*).")],
    good: Annotated[str | None, typer.Option(help="Known-good ref \\[default: the matrix base].")] = None,
    bad: Annotated[str | None, typer.Option(help="Known-bad ref \\[default: the tip of the series].")] = None,
    runs: Annotated[int, typer.Option(min=1, help="Runs per step, for flaky tests.")] = 1,
    threshold: Annotated[int, typer.Option(min=1, help="A step is bad when this many runs fail.")] = 1,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted bisect.")] = False,
    reset: Annotated[bool, typer.Option(help="Abandon the bisect and clean up.")] = False,
    matrix: MatrixOpt = None,  # type: ignore[assignment]
    results: Annotated[Path, typer.Option(help="Step logs and JUnit.")] = Path("results/bisect"),
    accel: Annotated[str, typer.Option(help="kvm, tcg or auto.")] = "auto",
    cache: CacheOpt = None,
) -> None:
    """Find the first commit (by default: the first patch of the series) that breaks TEST.

    Drives [bold]git bisect run[/] in the farm's own worktree; each step builds, boots and
    runs the test in CELL. A step whose build or boot fails is skipped (125), not bad.
    """
    from farm import bisect as bisecting
    from farm.kernel import git, series, source

    state_file = results / "bisect.json"
    try:
        c = Cache(cache or default_root())
        m = matrix_mod.load(matrix or _default_matrix())
        repo = source.ensure_repo(m.source, c)
        name = source.repo_name(m.source)
        worktree = c.worktree(name, "bisect")
        if reset:
            if worktree.exists():
                bisecting.reset(worktree)
            out.print("bisect reset")
            return
        if resume:
            if not bisecting.in_progress(worktree):
                raise UserError("no bisect in progress to resume (start one without --resume)")
            state = json.loads(state_file.read_text())
        else:
            (picked,) = _one_cell(m, cell)
            base = git.resolve(repo, m.source.base)
            assert base is not None
            source.worktree(repo, worktree, base)
            bisecting.reset(worktree)
            if bad is None:  # the series' tip, applied in the bisect's own worktree
                bad = series.apply(series.load(m.series_dir), worktree, m.source.base)
            good_commit, bad_commit = git.resolve(repo, good or base), git.resolve(repo, bad)
            if good_commit is None or bad_commit is None:
                raise UserError(f"unknown ref: {good if good_commit is None else bad}")
            bisecting.start(worktree, good_commit, bad_commit)
            results.mkdir(parents=True, exist_ok=True)
            (results / "steps.jsonl").unlink(missing_ok=True)
            step = [
                *_zpfarm_argv(),
                "bisect-step",
                "--matrix", str(m.path.resolve()),
                "--cell", picked,
                "--test", test,
                "--runs", str(runs),
                "--threshold", str(threshold),
                "--results", str((results / "steps").resolve()),
                "--accel", accel,
                "--cache", str(c.root),
                "--checkout", str(worktree),
            ]  # fmt: skip
            state = {"step": step, "cell": picked, "test": test, "good": good_commit, "bad": bad_commit}
            state_file.write_text(json.dumps(state, indent=2))
        out.print(f"bisecting {state['test']} in {state['cell']}: good {state['good'][:12]}, bad {state['bad'][:12]}")
        outcome = bisecting.run(worktree, state["step"], results / "steps.jsonl", results / "bisect.log")
    except ZpfarmError as e:
        raise _fail(e) from None
    table = Table(title=f"bisect steps (log: {results / 'bisect.log'})")
    for col in ("commit", "subject", "verdict", "time", "why"):
        table.add_column(col, overflow="fold")
    for st in outcome.steps:
        style = {"good": "green", "bad": "red"}.get(st.verdict, "yellow")
        table.add_row(
            st.commit[:12], escape(st.subject), f"[{style}]{st.verdict}[/]", f"{st.elapsed:.0f}s", escape(st.why)
        )
    out.print(table)
    if outcome.first_bad is None:
        err.print("[red]error:[/] git bisect ended without a first bad commit (see the log)")
        raise typer.Exit(1)
    out.print(f"[bold]first bad commit:[/] {outcome.first_bad} {outcome.subject}")
    out.print(
        f"reproduce: zpfarm bisect --cell {state['cell']} --test {state['test']} "
        f"--good {outcome.first_bad}~1 --bad {outcome.first_bad}"
    )


def _one_cell(m: matrix_mod.Matrix, glob: str) -> tuple[str]:
    """CELL/RUNTIME for a glob that must pick one cell (its first runtime unless named)."""
    cells = m.select([glob])
    if len(cells) != 1:
        raise UserError(f"--cell {glob!r} matches {len(cells)} cells; bisect needs exactly one")
    return (f"{cells[0].name}/{cells[0].runtimes[0].name}",)


@app.command("bisect-step", hidden=True)
def bisect_step(
    cell: Annotated[str, typer.Option("--cell")],
    test: Annotated[str, typer.Option("--test")],
    checkout: Annotated[Path, typer.Option("--checkout")],
    results: Annotated[Path, typer.Option("--results")],
    runs: Annotated[int, typer.Option("--runs")] = 1,
    threshold: Annotated[int, typer.Option("--threshold")] = 1,
    matrix: MatrixOpt = None,  # type: ignore[assignment]
    accel: Annotated[str, typer.Option("--accel")] = "auto",
    cache: CacheOpt = None,
) -> None:
    """One git bisect step: exit 0 good, 1 bad, 125 skip (git bisect run's protocol)."""
    import time

    from farm import bisect as bisecting
    from farm.kernel import git

    started = time.monotonic()
    try:
        m, cells = _load(matrix, [cell])
        commit = git.out(checkout, ["rev-parse", "--short=12", "HEAD"])
        verdicts = []
        for i in range(runs):
            where = results / commit / f"run{i + 1}"
            opts = pipeline.Options(
                matrix=m,
                cells=cells,
                cache=Cache(cache or default_root()),
                out=where,
                junit=where / "junit.xml",
                accel=accel,
                tests=(test.split(".", 1)[0],),
                checkout=checkout,
            )
            verdicts.append(bisecting.judge_run(pipeline.run(opts, PlainReporter(err)), test))
        verdict, why = bisecting.combine(verdicts, threshold)
    except UserError as e:
        verdict, why = bisecting.SKIP, str(e)
    except ZpfarmError as e:
        err.print(f"[red]error:[/] {e}")
        raise typer.Exit(200) from None  # outside 1..127: git bisect run aborts
    bisecting.record(results.parent / "steps.jsonl", checkout, verdict, why, time.monotonic() - started)
    err.print(f"zpfarm bisect-step: {commit}: {why}")
    raise typer.Exit(verdict)


@app.command("host-test")
def host_test(
    matrix: MatrixOpt = None,  # type: ignore[assignment]
    test: Annotated[list[str] | None, typer.Option("--test", "-t", help="Only these test programs.")] = None,
    kernel: Annotated[str, typer.Option(help="Judge as base or series (which expectations apply).")] = "base",
    ssh: Annotated[
        str | None,
        typer.Option(
            metavar="[USER@]HOST[:PORT]",
            help="Run on that machine's kernel instead (key auth, host in ~/.ssh/known_hosts; root there).",
        ),
    ] = None,
    results: Annotated[Path, typer.Option(help="Directory for logs.")] = Path("results/host"),
    cache: CacheOpt = None,
) -> None:
    """Run the guest tests on a real kernel, no VM: this machine's (as root) or another's over SSH.

    [bold]Examples[/]
      zpfarm host-test -t memory                     this machine, judged as base
      zpfarm host-test --ssh root@arm-board --kernel series
    """
    from farm import hosttest
    from farm.host.remote import Target

    where = "this host's kernel"
    try:
        m = matrix_mod.load(matrix or _default_matrix())
        if kernel not in matrix_mod.KERNELS:
            raise UserError(f"--kernel {kernel!r}: expected base or series")
        target = Target.parse(ssh) if ssh else None
        where = f"{target}'s kernel" if target else where
        results.mkdir(parents=True, exist_ok=True)
        cases = hosttest.run(m.testcases_dir, Cache(cache or default_root()), results, kernel, test or (), target)
    except ZpfarmError as e:
        raise _fail(e) from None
    table = Table(title=f"testcases on {where}, judged as {kernel}")
    for col in ("test", "verdict", "message"):
        table.add_column(col, overflow="fold")
    for c in cases:
        table.add_row(escape(c.name), f"[{STYLE[c.status]}]{c.status.value}[/]", escape(c.message))
    out.print(table)
    raise typer.Exit(1 if any(c.status in (Status.FAIL, Status.CRASH) for c in cases) else 0)


@app.command()
def doctor(cache: CacheOpt = None) -> None:
    """Check this host: tools, packages, KVM, disk; say what to install."""
    from farm.doctor import checks

    results = checks(Cache(cache or default_root()))
    table = Table(title="zpfarm doctor")
    for col in ("check", "", "detail", "needed by", "fix"):
        table.add_column(col)
    for c in results:
        table.add_row(
            c.name, "[green]ok[/]" if c.ok else "[red]missing[/]", c.detail, c.needed_by, "" if c.ok else c.fix
        )
    out.print(table)
    missing = [c for c in results if not c.ok]
    if missing:
        err.print(f"[red]error:[/] {len(missing)} missing: " + "; ".join(f"{c.name} ({c.fix})" for c in missing))
        raise typer.Exit(3)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
