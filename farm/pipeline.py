"""The pipeline: prepare trees, build cells, boot each runtime, judge, write JUnit.

Builds run one at a time in a background thread, in matrix order, so cell
k+1 compiles while cell k boots and tests. Every cell goes through one
CellRun, whose outcome is a Suite per runtime variant, whatever happened:
a series that does not apply (INPUT), a kernel that does not compile (BUILD),
a stage that broke (INFRA), or a boot and its verdict. JUnit is rewritten
atomically after every suite; an interrupted run (Ctrl-C, SIGTERM, SIGHUP)
stops everything it started, marks what it did not finish as interrupted,
and leaves a valid file.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path

from farm import reruns
from farm.cellrun import CellRun, identity
from farm.guest import selection, selftest_runs
from farm.host import files
from farm.host.cache import Cache
from farm.judge import expect, known, verdict
from farm.kernel import series
from farm.model.arches import Accel
from farm.model.errors import UserError
from farm.model.guest_settings import GuestSettings
from farm.model.matrix import Cell, Kernel, Matrix, Runtime, check_bootable
from farm.model.results import Report, Status, Suite, TestResult
from farm.model.suite_id import SuiteId
from farm.options import Options
from farm.report import junit, merge
from farm.report.progress import Reporter
from farm.stages import CellBuild, LocalStages, Stages
from farm.trees import Tree
from farm.vm import boot


def options(
    matrix: Matrix,
    cells: tuple[Cell, ...],
    cache: Cache,
    out: Path,
    junit_path: Path,
    *,
    accel: Accel = Accel.AUTO,
    tests: Sequence[str] = (),
    selftests: bool = True,
    checkout: Path | None = None,
    jobs: int | None = None,
    retries: int = 0,
) -> Options:
    """A run's Options, checked before any lock or build: test names, the matrix's runtime tests.

    jobs: guests at once (default: as many as this host's cores and memory hold, see default_jobs).
    retries: reruns of a suite's failed programs (farm.reruns).
    """
    new = new_selftests(matrix, cells)
    chosen = selection.select(matrix.testcases_dir, tests, new_selftests=new)
    selection.check_runtimes(matrix, new)
    if not selftests and chosen.names and not chosen.wants_testcases():
        raise UserError(f"--test {' '.join(chosen.names)} with --no-selftests: nothing would run")
    files.writable_file(junit_path, "--junit")
    boot.vng()  # a $ZPFARM_VNG that is not a program is bad input, said before any build
    if jobs is not None and jobs < 1:
        raise UserError(f"--jobs {jobs}: run at least one guest at a time")
    reruns.check(retries, matrix.testcases_dir / "expectations.toml")
    jobs = jobs or default_jobs(matrix.guest)
    return Options(matrix, cells, cache, out, junit_path, accel, chosen, checkout, selftests, jobs, retries=retries)


def new_selftests(matrix: Matrix, cells: Sequence[Cell]) -> list[str]:
    """The run names of the selftests the series cells' patches add (a series that does not load: none)."""
    found: list[str] = []
    for src in dict.fromkeys(c.source for c in cells if c.kernel is Kernel.SERIES):
        try:
            found += selftest_runs.new_runs(series.added_files(series.load(src.series)))
        except UserError:
            continue  # the series' own error comes with its cells' builds
    return found


def default_jobs(
    guest: GuestSettings, cores: int | None = None, memory: int | None = None, cores_per_guest: float | None = None
) -> int:
    """Guests at once on this host: as many as its cores hold at the guest's vCPUs, and 3/4 of its memory.

    Sized by vCPUs, not guests: measured under TCG on 2 cores, two 1-vCPU guests side by side took
    0.59x the time of running them one after the other, two 2-vCPU guests 1.55x. cores_per_guest
    replaces the vCPU count with a measured use (bench/matrix_wall.py's model of bigger hosts).
    """
    cores = cores or os.cpu_count() or 1
    memory = memory or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(1, min(int(cores / (cores_per_guest or guest.cpus)), int(memory * 0.75) // guest.memory_bytes))


def run(opts: Options, reporter: Reporter, stages: Stages | None = None, report: Report | None = None) -> Report:
    """The whole pipeline; waits while another run is using the worktrees.

    report, when given, is filled in as suites finish: after an interruption it
    says what finished and where the JUnit went. A build-only cell is refused (UserError)
    before anything starts: it has no boot to run.
    """
    check_bootable(opts.cells)
    stages = stages or LocalStages(opts, reporter.notice, reporter.line)
    report = report if report is not None else Report()
    with stages.hold_trees(lambda: reporter.notice("another zpfarm run is using the kernel trees: waiting")):
        _run(opts, reporter, stages, report)
    return report


def early_junit(path: Path) -> Path:
    """Where a run that ends before its first suite writes its JUnit: never over an earlier run's."""
    return path.with_name(f"{path.stem}.error{path.suffix}") if path.exists() else path


def _run(opts: Options, reporter: Reporter, stages: Stages, report: Report) -> None:
    expectations = expect.load_known(opts.matrix.testcases_dir / "expectations.toml")
    reporter.notice("preparing kernel trees")
    trees = stages.prepare_trees({(c.source, c.kernel) for c in opts.cells})
    arches = {c.arch.name: c.arch for c in opts.cells}
    guests = {name: stages.guest_programs(arch) for name, arch in arches.items()}  # once per arch
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="build") as builder,
        ThreadPoolExecutor(max_workers=opts.jobs, thread_name_prefix="boot") as booter,
    ):
        cells, order = boot_order(opts)
        builds = {
            cell.name: builder.submit(_build, stages, cell, tree, reporter)
            for cell in cells
            if isinstance(tree := trees[cell.source, cell.kernel], Tree)
        }
        runs = [
            CellRun(
                opts,
                stages,
                reporter,
                expectations,
                c,
                guests[c.arch.name],
                trees[c.source, c.kernel],
                builds.get(c.name),
            )
            for c in opts.cells
        ]
        # One task per boot, in boot_order. Each records its suite (and rewrites the JUnit) before
        # its thread takes the next boot.
        recording, stopped = threading.Lock(), threading.Event()

        def boot(run: CellRun, rt: Runtime) -> None:
            suite = run.suite(rt)
            with recording:
                if not stopped.is_set():  # a boot the stop killed is one of the interrupted
                    _record(opts, report, reporter, suite)

        by_cell = {run.cell.name: run for run in runs}
        boots = [booter.submit(boot, by_cell[cell.name], rt) for cell, rt in order]
        try:
            for done in as_completed(boots):
                done.result()
        except BaseException as e:
            # Ctrl-C or SIGTERM: nothing the run started may outlive it, and what it did not finish says so.
            stopped.set()
            for task in boots:
                task.cancel()
            for build in builds.values():
                build.cancel()
            stages.stop()
            with recording:
                wanted = opts.junit if report.suites else early_junit(opts.junit)
                report.junit, _ = junit.write_somewhere(wanted, [*report.suites, *interrupted(opts, report, e)])
            raise


def boot_order(opts: Options) -> tuple[list[Cell], list[tuple[Cell, Runtime]]]:
    """The order of the builds and of the boots.

    One guest at a time: matrix order, each cell booting as it is built. Several:
    the longest boots first (their times in the JUnit file this run replaces; a
    boot without a time counts as the longest), so that no long guest runs alone
    at the end while the other slots idle; the builds follow the same order.
    """
    boots = [(cell, rt) for cell in opts.cells for rt in cell.runtimes]
    if opts.jobs == 1:
        return list(opts.cells), boots
    times = merge.suite_times(opts.junit)

    def seconds(boot: tuple[Cell, Runtime]) -> float:
        return times.get(SuiteId.of(*boot).name, math.inf)

    boots.sort(key=seconds, reverse=True)  # stable: ties keep matrix order
    return list(dict.fromkeys(cell for cell, _ in boots)), boots  # every cell boots at least once


def _build(stages: Stages, cell: Cell, tree: Tree, reporter: Reporter) -> CellBuild:
    reporter.phase(cell.name, "build")
    result = stages.build(cell, tree, lambda text: reporter.line(cell.name, text))
    if result.built.ok:
        reporter.phase(cell.name, "built", "boots after the cells above")
    return result


def _record(opts: Options, report: Report, reporter: Reporter, suite: Suite) -> None:
    report.suites.append(suite)
    report.junit, problem = junit.write_somewhere(opts.junit, report.suites)
    if problem and not report.junit_problem:
        reporter.notice(f"{problem}: JUnit written to {report.junit} instead")
    report.junit_problem = report.junit_problem or problem
    reporter.suite_done(suite)


def interrupted(opts: Options, report: Report, why: BaseException) -> list[Suite]:
    """An error suite for every cell/runtime the run had not finished when it was stopped."""
    done = {s.name for s in report.suites}
    now = datetime.now(UTC)
    what = f"interrupted ({type(why).__name__}{': ' + str(why) if str(why) else ''}) before this suite finished"
    case = TestResult("interrupted", Status.INFRA, what)
    expectations = expect.load_known(opts.matrix.testcases_dir / "expectations.toml")
    return [
        Suite(
            SuiteId.of(cell, rt).name,
            (*_finished_part(opts, cell, rt, expectations), case),
            identity(cell, rt).properties(),
            "",
            now,
            0.0,
        )
        for cell in opts.cells
        for rt in cell.runtimes
        if SuiteId.of(cell, rt).name not in done
    ]


def _finished_part(opts: Options, cell: Cell, rt: Runtime, expectations: expect.Known) -> list[TestResult]:
    """What the interrupted boot of cell/rt had written to its share before the stop."""
    written = opts.out / cell.name / rt.name / "share" / "results.ktap"
    try:
        if written.stat().st_mtime < opts.started:  # an earlier run's: this one never booted it
            return []
        text = written.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    scoped = expectations.at(known.Where.of(cell, rt, opts.accel.value)).expect
    return verdict.finished_part(text, cell.kernel.value, scoped)
