"""The CI steps, one job each: plan, build, test, merge; and the pipelines that call them (`ci`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from farm import pipeline, ui
from farm.commands.common import (
    AccelOpt,
    CacheOpt,
    CellOpt,
    Command,
    FailOnFlakyOpt,
    Group,
    HistoryOpt,
    JunitOpt,
    MatrixOpt,
    Outcome,
    RetriesOpt,
    SelftestsOpt,
    TestOpt,
    cache,
    err,
    error,
    flaky_gate,
    job,
    judged_by,
    junit_written,
    load,
    matrix,
    out,
    recording,
    remember,
    results,
    warn,
    writable,
)
from farm.model import plan as plan_file
from farm.model.arches import Accel
from farm.model.plan import Stage
from farm.model.results import Report


def plan(
    matrix_file: MatrixOpt = None,
    cell: CellOpt = None,
    runner: Annotated[
        list[str] | None,
        typer.Option(metavar="ARCH=LABEL,...[@MACHINE]", help="CI runner labels for an arch's rows (repeatable)."),
    ] = None,
    stage: Annotated[Stage | None, typer.Option(help='Print only this stage\'s {"include": [...]} rows.')] = None,
    with_sweep: Annotated[
        bool, typer.Option("--sweep/--no-sweep", help="Sweep rows, one per toolchain of the matrix's \\[sweep].")
    ] = True,
    cache_dir: CacheOpt = None,
) -> None:
    """Print the build, test and sweep rows a CI engine's matrix expands (JSON on stdout).

    A build row is one kernel, named by its build key (a hash of arch, compiler, kconfig
    fragments, base and series); a test row is one CELL/RUNTIME booting one build; a sweep
    row is one toolchain of the matrix's \\[sweep] (`zpfarm sweep --only 'TOOLCHAIN/*'`),
    planned when the matrix declares \\[sweep] and the cells test a series.
    """
    from farm import plan as planning

    m, cells = load(matrix_file, cell, cache(cache_dir))
    runners = {**plan_file.DEFAULT_RUNNERS, **dict(plan_file.parse_runner(spec) for spec in runner or ())}
    rows = planning.make(m, cells, runners=runners, sweep=with_sweep)
    planning.check(rows)
    sys.stdout.write(rows.to_json(stage) + "\n")


def build(
    key: Annotated[str, typer.Option("--key", "-k", metavar="KEY", help="A build key from `zpfarm plan`.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Where KEY.tar.zst goes.")] = Path("dist"),
    matrix_file: MatrixOpt = None,
    cache_dir: CacheOpt = None,
    with_selftests: SelftestsOpt = True,
) -> Outcome:
    """Build one kernel of the plan and pack it as DIR/KEY.tar.zst (kernel, .config, guest programs).

    Exit 1 when the kernel does not build (no artifact is written).
    """
    from farm import steps

    artifact_key = steps.check_key(key)  # it names directories: checked before any is made
    c = cache(cache_dir)
    m = matrix(matrix_file, c)
    logs = writable(out_dir / "logs" / artifact_key, "--out")
    opts = pipeline.options(m, m.cells, c, logs, logs / "junit.xml", selftests=with_selftests)
    done = steps.build_artifact(m, opts, artifact_key, writable(out_dir, "--out"), ui.PlainReporter(err))
    if done.artifact is None:
        error(f"the kernel does not build: {done.built.message} (log: {done.built.log})")
        return Outcome.FAILED
    out.print(f"{done.artifact}", soft_wrap=True)
    return Outcome.PASSED


def test(
    ctx: typer.Context,
    cell: Annotated[str, typer.Option("--cell", "-c", metavar="CELL/RUNTIME", help="The one suite to run.")],
    kernel: Annotated[Path, typer.Option("--kernel", metavar="FILE", help="KEY.tar.zst from `zpfarm build`.")],
    junit_file: JunitOpt = None,
    results_dir: Annotated[Path, typer.Option("--results", metavar="DIR", help="Logs and consoles.")] = Path(
        "results/test"
    ),
    test: TestOpt = None,
    accel: AccelOpt = Accel.AUTO,
    matrix_file: MatrixOpt = None,
    cache_dir: CacheOpt = None,
    with_selftests: SelftestsOpt = True,
    history: HistoryOpt = None,
    retries: RetriesOpt = 1,
    fail_on_flaky: FailOnFlakyOpt = False,
) -> Report | Outcome:
    """Boot one CELL/RUNTIME from a kernel artifact and run its tests; never builds.

    The JUnit has the suite as `zpfarm run` writes it (accel used, reproducer, log path).
    """
    from farm import steps

    junit_path = junit_file or results_dir / "junit.xml"
    report = Report()
    kept = recording(history, results_dir, "test", verdicts=True)
    with job(junit_path, report, kept):
        c = cache(cache_dir)
        m = matrix(matrix_file, c)
        cells = steps.one_suite(m, cell)
        opts = pipeline.options(
            m,
            cells,
            c,
            results(ctx, results_dir),
            junit_path,
            accel=accel,
            tests=test or (),
            selftests=with_selftests,
            retries=retries,
        )
        steps.test_artifact(opts, kernel, ui.PlainReporter(out), report)
    ui.print_verdicts(out, report, judged_by(kept, report.suites))
    junit_written(report, junit_path)
    return flaky_gate(report, fail_on_flaky)


def merge(
    files: Annotated[list[Path] | None, typer.Argument(metavar="[JUNIT]...", help="Per-job JUnit files.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="The merged JUnit.")] = Path(
        "junit.xml"
    ),
    expect_from: Annotated[
        Path | None,
        typer.Option(metavar="PLAN", help="A `zpfarm plan` file: every test and sweep row's suites must be there."),
    ] = None,
    expect: Annotated[list[str] | None, typer.Option(metavar="SUITE", help="A suite that must be there.")] = None,
    history: HistoryOpt = None,
) -> None:
    """Merge per-job JUnit files into one; a planned suite with no file is an <error> suite (job lost).

    Exit 0 when the file was written (lost jobs are errors in it, for `zpfarm compare` and the CI's test report).
    """
    from farm.report import merge as merging

    kept = recording(history, None, "merge", verdicts=True)
    expected = [*(expect or ()), *(merging.expected_suites(expect_from) if expect_from else ())]
    merged = merging.merge(files or [], output, expected)
    for note in merged.notes:
        warn(note)
    for suite in merged.lost:
        error(merging.lost_message(suite))
    out.print(f"{len(merged.suites)} suites ({len(merged.lost)} lost) in {output}", soft_wrap=True)
    suites = merging.judged_suites(output)
    ui.print_verdicts(out, Report(suites), judged_by(kept, suites))
    remember(kept, junit_files=[output])


pipelines = typer.Typer(
    cls=Group, no_args_is_help=True, help="Print a CI pipeline that runs the matrix as plan, build, test, report."
)


@pipelines.command("github", cls=Command)
def github() -> None:
    """The GitHub Actions workflow (ci/github/zpfarm.yml holds a copy: put it in .github/workflows/)."""
    from farm.ci import github as workflow

    sys.stdout.write(workflow.workflow())


@pipelines.command("gitlab", cls=Command)
def gitlab(
    child: Annotated[
        Path | None, typer.Option(metavar="PLAN", help="Print the child pipeline of this plan instead.")
    ] = None,
) -> None:
    """The GitLab CI pipeline (ci/gitlab/.gitlab-ci.yml holds a copy); --child PLAN: the jobs of one plan."""
    from farm.ci import gitlab as pipeline_yaml

    sys.stdout.write(pipeline_yaml.pipeline() if child is None else pipeline_yaml.child(plan_file.load(child)))
