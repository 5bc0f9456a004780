"""The pipeline: prepare trees, build cells, boot each runtime, judge, write JUnit.

Builds run one at a time in a background thread, in matrix order, so cell
k+1 compiles while cell k boots and tests. JUnit is rewritten (atomically)
after every suite, so an interrupted run leaves a valid file holding what
finished.
"""

from __future__ import annotations

import dataclasses
import functools
import shlex
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from farm.guest import accel, boot, rootfs, runner, selftests, testcases
from farm.host import proc
from farm.host.cache import Cache
from farm.judge import console, expect, ktap
from farm.kernel import build, git, series, source
from farm.model.errors import UserError, ZpfarmError
from farm.model.matrix import Cell, Matrix, Runtime
from farm.model.results import Status, TestResult
from farm.report import junit
from farm.report.progress import Reporter

SELFTESTS = "selftests"
_Built = tuple[build.Built, list[boot.GuestTest]]


@dataclass(frozen=True)
class Options:
    matrix: Matrix
    cells: tuple[Cell, ...]
    cache: Cache
    out: Path  # this run's results directory
    junit: Path
    accel: str = "auto"
    tests: tuple[str, ...] = ()  # limit the guest tests to these programs
    # Bisect: build this checkout as it is (in build dirs of its own) instead of base/series.
    checkout: Path | None = None
    selftests: bool = True  # the kernel's own mm/memfd selftests, built from each tree

    def wants_selftests(self) -> bool:
        return self.selftests and (not self.tests or any(t.startswith(SELFTESTS) for t in self.tests))

    def wanted(self, tests: Sequence[boot.GuestTest]) -> list[boot.GuestTest]:
        """tests limited by --test (a bare "selftests" selects all of them)."""
        if not self.tests:
            return list(tests)
        return [t for t in tests if t.name in self.tests or (SELFTESTS in self.tests and t.name.startswith(SELFTESTS))]


@dataclass
class Report:
    """What a run produced; the CLI turns it into a table and an exit code."""

    suites: list[junit.Suite] = field(default_factory=list)
    user_errors: list[str] = field(default_factory=list)  # cells that could not run: bad input

    def count(self, status: Status) -> int:
        return sum(1 for s in self.suites for c in s.cases if c.status is status)

    @property
    def exit_code(self) -> int:
        """0 passed; 1 a test failed or crashed; 2 bad input; 3 infrastructure."""
        if self.user_errors:
            return 2
        if self.count(Status.INFRA):
            return 3
        if self.count(Status.FAIL) or self.count(Status.CRASH):
            return 1
        return 0


@dataclass(frozen=True)
class Tree:
    path: Path
    commit: str
    series_hash: str  # "" for base


def run(opts: Options, reporter: Reporter) -> Report:
    """The whole pipeline; waits while another run is using the worktrees."""
    with opts.cache.trees_lock(lambda: reporter.notice("another zpfarm run is using the kernel trees: waiting")):
        return _run(opts, reporter)


def _run(opts: Options, reporter: Reporter) -> Report:
    report = Report()
    expectations = expect.load(opts.matrix.testcases_dir / "expectations.toml")
    reporter.notice("preparing kernel trees")
    trees = prepare_trees(opts, opts.cells) if opts.checkout is None else _checkout(opts.checkout, opts.cells)
    programs = _build_guest_programs(opts)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="build") as builder:
        futures = {
            cell.name: builder.submit(_build, opts, cell, tree, reporter)
            for cell in opts.cells
            if isinstance(tree := trees[cell.kernel], Tree)
        }
        try:
            for cell in opts.cells:
                tree = trees[cell.kernel]
                if isinstance(tree, ZpfarmError):
                    _cell_error(opts, report, reporter, cell, tree)
                    continue
                _run_cell(opts, cell, tree, futures[cell.name], programs, expectations, reporter, report)
        except BaseException:
            # Ctrl-C: the build running in the background thread must not outlive the run.
            for f in futures.values():
                f.cancel()
            proc.stop_all()
            raise
    return report


def _checkout(path: Path, cells: Sequence[Cell]) -> dict[str, Tree | ZpfarmError]:
    tree = Tree(path, git.out(path, ["rev-parse", "HEAD"]), "")
    return dict.fromkeys({c.kernel for c in cells}, tree)


def prepare_trees(opts: Options, cells: Sequence[Cell]) -> dict[str, Tree | ZpfarmError]:
    """The commit each kernel of cells builds, all in one worktree (builds check out theirs).

    A series that does not apply fails only its cells.
    """
    src = opts.matrix.source
    repo = source.ensure_repo(src, opts.cache)
    base_commit = git.resolve(repo, src.base)
    assert base_commit is not None
    path = source.worktree(repo, opts.cache.worktree(source.repo_name(src)), base_commit)
    trees: dict[str, Tree | ZpfarmError] = {}
    for kernel in sorted({c.kernel for c in cells}):
        if kernel == "base":
            trees[kernel] = Tree(path, base_commit, "")
            continue
        try:
            patches = series.load(opts.matrix.series_dir)
            trees[kernel] = Tree(path, series.apply(patches, path, src.base), patches.hash)
        except ZpfarmError as e:
            trees[kernel] = e
    return trees


@dataclass(frozen=True)
class GuestPrograms:
    """What every guest of one arch gets: the runner and testcases/ (selftests come per kernel)."""

    runner: Path
    tests: list[boot.GuestTest]


def _build_guest_programs(opts: Options) -> dict[str, GuestPrograms]:
    """The runner and testcases/, built once per arch."""
    out: dict[str, GuestPrograms] = {}
    only = [t for t in opts.tests if not t.startswith(SELFTESTS)]
    for arch in {c.arch.name: c.arch for c in opts.cells}.values():
        guest_runner = runner.build(arch, opts.cache.runner(arch.name), opts.out / f"runner-{arch.name}.log")
        if opts.tests and not only:
            out[arch.name] = GuestPrograms(guest_runner, [])
            continue
        built = opts.cache.testcases(arch.name)
        testcases.build(opts.matrix.testcases_dir, arch, built, opts.out / f"testcases-{arch.name}.log")
        timeout = opts.matrix.guest.test_timeout
        out[arch.name] = GuestPrograms(
            guest_runner, testcases.guest_tests(opts.matrix.testcases_dir, built, timeout, only)
        )
    return out


def _build(opts: Options, cell: Cell, tree: Tree, reporter: Reporter) -> _Built:
    """The cell's kernel, then (when wanted) the selftests of its tree for its arch."""
    reporter.phase(cell.name, "build")
    progress = functools.partial(reporter.line, cell.name)
    prefix = "bisect-" if opts.checkout else ""
    built = build.build(
        cell,
        tree.path,
        tree.commit,
        opts.cache,
        opts.out / cell.name / "build.log",
        progress,
        build_dir=opts.cache.build(prefix + cell.name) if prefix else None,
    )
    extra: list[boot.GuestTest] = []
    if built.ok and opts.wants_selftests():
        reporter.phase(cell.name, "build selftests")
        out = opts.cache.root / SELFTESTS / f"{prefix}{cell.kernel}-{cell.arch.name}"
        with opts.cache.build_lock():
            git.checkout(tree.path, tree.commit)
            extra = opts.wanted(selftests.build(tree.path, cell.arch, out, opts.out / cell.name / "selftests.log"))
    if built.ok:
        reporter.phase(cell.name, "built", "boots after the cells above")
    return built, extra


def _run_cell(
    opts: Options,
    cell: Cell,
    tree: Tree,
    future: Future[_Built],
    programs: dict[str, GuestPrograms],
    expectations: Sequence[expect.Expectation],
    reporter: Reporter,
    report: Report,
) -> None:
    props = {
        "arch": cell.arch.name,
        "kconfig": cell.kconfig.name,
        "kernel": cell.kernel,
        "commit": tree.commit,
        "series_hash": tree.series_hash,
    }
    started = datetime.now(UTC)
    try:
        built, extra = future.result()
    except ZpfarmError as e:
        _cell_error(opts, report, reporter, cell, e, props)
        return
    props |= {"kernel_release": built.release, "build_warnings": str(built.warnings)}
    props["build_seconds"] = f"{built.elapsed:.1f}"
    if not built.ok:
        case = TestResult("build", Status.INFRA, built.message, built.log.read_text(errors="replace")[-20000:])
        for rt in cell.runtimes:
            _add(opts, report, reporter, cell, rt, props, started, [case], "")
        return
    try:
        root = (
            None
            if cell.arch.native
            else rootfs.ensure(cell.arch, opts.cache, opts.out / f"rootfs-{cell.arch.name}.log")
        )
    except ZpfarmError as e:
        _cell_error(opts, report, reporter, cell, e, props)
        return
    for rt in cell.runtimes:
        started = datetime.now(UTC)
        mode = accel.resolve(opts.accel, cell.arch, built.image or Path(), opts.cache.host_facts, reporter.notice)
        reporter.phase(cell.name, f"boot {rt.name}", mode)
        where = opts.out / cell.name / rt.name
        assert built.image is not None
        guest = programs[cell.arch.name]
        chosen = [t for t in guest.tests + extra if not rt.tests or t.name in rt.tests]
        booted = boot.boot(
            boot.Boot(built.image, cell.arch.name, guest.runner, mode, opts.matrix.guest, rt, root),
            chosen,
            where / "share",
            where / "console.log",
            functools.partial(reporter.line, cell.name),
        )
        cases = judge(booted, cell.kernel, [t.name for t in chosen], expectations)
        _add(opts, report, reporter, cell, rt, props | {"accel": mode}, started, cases, str(booted.console))


def _cell_error(
    opts: Options, report: Report, reporter: Reporter, cell: Cell, e: ZpfarmError, props: dict[str, str] | None = None
) -> None:
    """A cell that could not be built: one error test case per runtime variant."""
    if isinstance(e, UserError):
        report.user_errors.append(f"{cell.name}: {e}")
    props = props or {"arch": cell.arch.name, "kconfig": cell.kconfig.name, "kernel": cell.kernel}
    for rt in cell.runtimes:
        _add(
            opts, report, reporter, cell, rt, props, datetime.now(UTC), [TestResult("build", Status.INFRA, str(e))], ""
        )


def judge(
    booted: boot.Booted, kernel: str, planned: Sequence[str], expectations: Sequence[expect.Expectation]
) -> list[TestResult]:
    """Test results from the guest's KTAP, plus errors for what the console shows."""
    text = booted.console.read_text(encoding="utf-8", errors="replace") if booted.console.is_file() else ""
    root = ktap.parse(booted.ktap)
    cases = _explain_missing(root, expect.evaluate(root, kernel, expectations)) + _bad_exits(root)
    seen = {c.name.split(".", 1)[0] for c in cases}
    splats = console.scan(text)
    if not booted.finished:
        cases.append(_unfinished(booted, text, splats))
        cases += [
            TestResult(name, Status.CRASH, "never ran: the guest stopped first") for name in planned if name not in seen
        ]
    for s in splats:
        cases.append(
            TestResult(f"{s.test or 'kernel'}.console", Status.CRASH, f"{s.kind} (console line {s.line})", s.excerpt)
        )
    return cases


def _explain_missing(root: ktap.KtapNode, cases: list[TestResult]) -> list[TestResult]:
    """Results a program never printed because the runner stopped it: say so."""
    stopped = {p.name: p.directive for p in root.children if p.directive.startswith(("TIMEOUT", "ERROR"))}
    out = []
    for c in cases:
        prog = c.name.split(".", 1)[0]
        if prog in stopped and c.status is Status.CRASH and c.message == expect.CRASH_MESSAGE:
            c = dataclasses.replace(c, message=f"not reached: {prog} was stopped ({stopped[prog]})")
        out.append(c)
    return out


def _bad_exits(root: ktap.KtapNode) -> list[TestResult]:
    """Programs the runner marked failed (timeout, signal, exit status) whose own results look fine."""
    out = []
    for prog in root.children:
        fine = all(c.status in (ktap.KtapStatus.OK, ktap.KtapStatus.SKIP) for c in prog.children)
        if prog.children and prog.status is ktap.KtapStatus.NOT_OK and fine:
            # A directive is the runner's TIMEOUT or ERROR (signal): a crash; else a bare exit status.
            status = Status.CRASH if prog.directive else Status.FAIL
            why = prog.directive or next((line for line in reversed(prog.log) if "exit status" in line), "failed")
            out.append(TestResult(f"{prog.name}.exit", status, why, "\n".join(prog.log)))
    return out


def _unfinished(booted: boot.Booted, text: str, splats: Sequence[console.Splat]) -> TestResult:
    """Why the runner did not finish, as a 'boot' test case."""
    tail = "\n".join(text.splitlines()[-40:])
    if "Linux version" not in text:
        why = "timed out before the kernel printed anything" if booted.timed_out else "the guest did not start"
        return TestResult("boot", Status.INFRA, f"{why} (vng exit {booted.returncode})", tail)
    if booted.timed_out:
        return TestResult("boot", Status.CRASH, f"guest hung: killed after {booted.elapsed:.0f} s", tail)
    what = splats[-1].kind if splats else f"vng exit {booted.returncode}"
    return TestResult("boot", Status.CRASH, f"guest stopped before the tests finished: {what}", tail)


def _add(
    opts: Options,
    report: Report,
    reporter: Reporter,
    cell: Cell,
    rt: Runtime,
    props: dict[str, str],
    started: datetime,
    cases: list[TestResult],
    system_out: str,
) -> None:
    cell_glob = f"{cell.name}/{rt.name}"
    again = ["zpfarm", "run", "--matrix", str(opts.matrix.path), "--cell", cell_glob]
    src = opts.matrix.source
    if src.tree is not None:
        again += ["--kernel-tree", str(src.tree), "--base", src.base]
    again += ["--accel", props.get("accel", opts.accel)]
    props = props | {"runtime": rt.name, "reproducer": shlex.join(again)}
    suite = junit.Suite(
        name=cell_glob,
        cases=tuple(cases),
        properties=props,
        system_out=system_out,
        timestamp=started,
        elapsed=(datetime.now(UTC) - started).total_seconds(),
    )
    report.suites.append(suite)
    junit.write(opts.junit, report.suites)
    reporter.suite_done(suite)
