"""One cell through the stages: its build (shared by its runtimes), then a boot per runtime variant.

A CellRun's outcome is a Suite per runtime, whatever happened: a series that does not apply
(INPUT), a kernel that does not compile (BUILD), a stage that broke (INFRA), or a boot and its
verdict. Its facts (SuiteFacts) grow as it goes and become the suite's properties, among them
the one-line reproducer.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from farm import reruns
from farm.guest import gcov, selection
from farm.host import provenance
from farm.judge import expect, known, verdict
from farm.kernel import build
from farm.model.errors import UserError, ZpfarmError
from farm.model.matrix import Cell, Matrix, Runtime
from farm.model.programs import GuestTest
from farm.model.results import Booted, Status, Suite, TestResult
from farm.model.suite_facts import BuildFacts, SuiteFacts
from farm.model.suite_id import SuiteId
from farm.options import Options
from farm.report.progress import Reporter
from farm.stages import CellBuild, GuestImage, GuestPrograms, Stages
from farm.trees import Tree
from farm.vm import boot

LOG_TAIL = 20000  # characters of a failed build's log kept in the JUnit


def identity(cell: Cell, runtime: Runtime | None = None) -> SuiteFacts:
    """What a suite is of: the cell, and the base as resolved (the point release and its tarball)."""
    src = cell.source
    identity = SuiteFacts(cell.arch.name, cell.kconfig.name, cell.kernel.value, src.base, src.line, src.tarball_sha256)
    return replace(identity, runtime=runtime.name) if runtime else identity


def _provenance(matrix: Matrix, cell: Cell) -> dict[str, str]:
    """Which farm, tools and matrix file made a suite (asked once per process)."""
    tools = {
        "vng_version": (boot.vng(), "--version"),
        "compiler": (cell.arch.cc, "--version"),
        **({"qemu_version": (cell.arch.qemu.binary, "--version")} if cell.arch.qemu else {}),
    }
    try:
        matrix_sha = provenance.sha256(matrix.path)
    except OSError:
        matrix_sha = "unreadable"
    facts = {"zpfarm": provenance.zpfarm(), "host": provenance.machine(), "matrix_sha256": matrix_sha}
    facts |= {"guest_cpus": str(matrix.guest.cpus), "guest_memory": matrix.guest.memory}
    return facts | {name: provenance.tool_version(*argv) for name, argv in tools.items()}


def _config(cell: Cell, tree: Tree, image: Path | None) -> dict[str, str]:
    """What a report needs of a build: the config's fragments and sha256, vmlinux and the tree to decode traces."""
    props = {"config_fragments": ", ".join(f.name for f in build.fragments(cell)), "source_tree": str(tree.path)}
    if cell.source.tree is not None:
        props["tree"] = str(cell.source.tree)
    where = Path(str(image).removesuffix(cell.arch.image)) if str(image).endswith(f"/{cell.arch.image}") else None
    if where is not None and (where / ".config").is_file():
        props["config_sha256"] = provenance.sha256(where / ".config")
    if where is not None and (where / "vmlinux").is_file():
        props["vmlinux"] = str(where / "vmlinux")
    return props


def stage_error(stage: str, e: ZpfarmError) -> TestResult:
    """A stage that raised: bad input (exit 2) or the machine (exit 3), never the code under test."""
    return TestResult(stage, Status.INPUT if isinstance(e, UserError) else Status.INFRA, str(e))


@dataclass(frozen=True)
class Prepared:
    """A cell ready to boot (its guest image and selftests), or the case that says why it is not."""

    facts: SuiteFacts
    guest: GuestImage | TestResult
    selftests: tuple[GuestTest, ...] = ()


@dataclass
class CellRun:
    """One cell through the stages: its build (shared by its runtimes), then a boot per runtime variant.

    suite() may run in several boot threads at once, one per runtime; the
    first to come waits for the build and the root filesystem for all.
    """

    opts: Options
    stages: Stages
    reporter: Reporter
    expectations: expect.Known
    cell: Cell
    guest_programs: GuestPrograms
    tree: Tree | ZpfarmError
    build: Future[CellBuild] | None
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _ready: Prepared | None = field(default=None, init=False)

    def suite(self, rt: Runtime) -> Suite:
        """The <testsuite> of one runtime variant, whatever happened to the cell."""
        started = datetime.now(UTC)
        ready = self._prepared()
        if isinstance(ready.guest, TestResult):
            return self._suite(rt, ready.facts, started, [ready.guest], "")
        return self._boot(rt, ready.guest, ready.selftests, ready.facts)

    def _prepared(self) -> Prepared:
        with self._lock:
            if self._ready is None:
                self._ready = self._prepare()
            return self._ready

    def _prepare(self) -> Prepared:
        """The cell's guest (kernel, runner, root), or the case saying why it has none."""
        facts = replace(identity(self.cell), provenance=tuple(_provenance(self.opts.matrix, self.cell).items()))
        if isinstance(self.tree, ZpfarmError) or self.build is None:
            error = self.tree if isinstance(self.tree, ZpfarmError) else ZpfarmError("no build was started")
            return Prepared(facts, stage_error("build", error))
        tree = BuildFacts(
            self.tree.commit, self.tree.series_hash, series_id=self.tree.series_id,
            base_commit=self.tree.base_commit, series=self.tree.series_name, patch_ids=self.tree.patch_ids,
        )  # fmt: skip
        facts = replace(facts, build=tree)
        try:
            result = self.build.result()
        except ZpfarmError as e:
            return Prepared(facts, stage_error("build", e))
        built = result.built
        origin = result.origin
        build_facts = replace(
            tree, kernel_release=built.release, warnings=built.warnings, seconds=built.elapsed, log=str(built.log),
            key=origin.key, artifact=origin.artifact, artifact_sha256=origin.artifact_sha256,
        )  # fmt: skip
        facts = replace(facts, build=build_facts, reported=tuple(_config(self.cell, self.tree, built.image).items()))
        if not built.ok or built.image is None:
            tail = built.log.read_text(errors="replace")[-LOG_TAIL:] if built.log.is_file() else ""
            return Prepared(facts, TestResult("build", Status.BUILD, built.message, tail))
        try:
            root = self.stages.rootfs(self.cell.arch)
        except ZpfarmError as e:
            return Prepared(facts, stage_error("rootfs", e))
        return Prepared(facts, GuestImage(built.image, self.guest_programs.runner, root), result.selftests)

    def _boot(self, rt: Runtime, guest: GuestImage, selftests: Sequence[GuestTest], facts: SuiteFacts) -> Suite:
        started = datetime.now(UTC)
        self.reporter.phase(self.cell.name, f"boot {rt.name}")
        wanted = selection.Selection(rt.tests)  # the runtime's tests, read as --test reads names
        chosen = [t for t in (*self.guest_programs.tests, *selftests) if wanted.wants(t.name)]
        if self.cell.kconfig.coverage:
            chosen = gcov.around(chosen)
        done = reruns.run(
            lambda tests, at: self.stages.boot(self.cell, rt, guest, tests, at),
            lambda booted, tests: self._judge(rt, booted, tests),
            chosen,
            self.opts.out / self.cell.name / rt.name,
            0 if self.cell.kconfig.coverage else self.opts.retries,  # a rerun would skew the coverage counters
            self.opts.matrix.guest.boot_timeout,
            lambda note: self.reporter.notice(f"{self.cell.name}/{rt.name}: {note}"),
        )
        booted = done.booted
        measured = (*booted.properties, *done.properties.items())  # and what the reruns did
        facts = replace(facts, accel=booted.accel, console_log=str(booted.console), measured=measured)
        return self._suite(rt, facts, started, done.cases, str(booted.console))

    def _judge(self, rt: Runtime, booted: Booted, tests: Sequence[GuestTest]) -> list[TestResult]:
        """One boot's results, judged by the known issues whose scope covers it."""
        text = booted.console.read_text(encoding="utf-8", errors="replace") if booted.console.is_file() else ""
        here = self.expectations.at(known.Where.of(self.cell, rt, booted.accel))
        planned = [t.name for t in tests]
        return verdict.judge(booted, text, self.cell.kernel, planned, here.expect, here.console_ignore)

    def _suite(
        self, rt: Runtime, facts: SuiteFacts, started: datetime, cases: list[TestResult], system_out: str
    ) -> Suite:
        name = SuiteId.of(self.cell, rt).name
        facts = replace(facts, runtime=rt.name, reproducer=reproducer(self.opts, self.cell, name, facts))
        elapsed = (datetime.now(UTC) - started).total_seconds()
        return Suite(name, tuple(cases), facts.properties(), system_out, started, elapsed)


def reproducer(opts: Options, cell: Cell, suite: str, facts: SuiteFacts) -> str:
    """The one command that reruns exactly this suite, with no path of this machine in it.

    From an artifact (a test step): `zpfarm test` of that artifact by its name (KEY.tar.zst); otherwise
    `zpfarm run` of the matrix, named relative to the current directory or zpfarm's checkout.
    `zpfarm repro make` writes a directory in which this very command runs (its matrix.toml, its
    artifact) on any machine, and adds `--test NAME`.
    """
    matrix = portable(opts.matrix.path)
    artifact = facts.build.artifact if facts.build else ""
    again = ["zpfarm", "test" if artifact else "run", "--matrix", matrix, "--cell", suite]
    if artifact:
        again += ["--kernel", artifact]
    elif cell.source.tree is not None:
        again += ["--kernel-tree", portable(cell.source.tree), "--base", cell.source.base]
    return shlex.join([*again, "--accel", facts.accel or opts.accel.value])


def portable(path: Path) -> str:
    """path relative to the current directory or to zpfarm's checkout when under one, else its name alone.

    Not relative to / or the home directory: that would be this machine's path without its first slash.
    """
    cwd = Path.cwd().resolve()
    for root in (cwd, provenance.CHECKOUT.resolve()):
        if root not in (Path("/"), Path.home().resolve()) and path.is_relative_to(root):
            return str(path.relative_to(root))
    return path.name
