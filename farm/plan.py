"""A plan: the build, test and sweep jobs of a matrix, as rows a CI engine's matrix expands.

A build row is one kernel, named by its build key: a short sha256 over
everything that changes the kernel binary (arch, toolchain, the kconfig
fragments' contents, the source, the series). Runtime variants of a cell
share its build; thp-on and thp-off are different builds. A test row is one
boot: CELL/RUNTIME, the build key it boots, whether it wants KVM, a timeout
and the runner labels it goes to. A sweep row is one toolchain of the
matrix's [sweep] (`zpfarm sweep --only 'TOOLCHAIN/*'`), on the build runners,
when the matrix declares [sweep] and the plan's cells test a series: it needs
no build and no test needs it.

The rows and the plan file are values (model/plan.py); this module makes them from a matrix.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from farm.host import proc
from farm.kernel import artifact
from farm.kernel import series as series_mod
from farm.kernel.build import fragments
from farm.model.arches import Arch
from farm.model.errors import InfraError, UserError
from farm.model.guest_settings import GuestSettings
from farm.model.matrix import Cell, Kernel, Matrix, Runtime, Source, check_bootable
from farm.model.plan import (
    DEFAULT_RUNNERS,
    HOSTED,
    BuildRow,
    Plan,
    Runner,
    Stage,
    SweepRow,
    TestRow,
    Toolchain,
    ToolchainProbe,
)
from farm.model.suite_id import SuiteId
from farm.model.sweep import suite_name

KEY_VERSION = "zpfarm-build-key 2"  # bump when the key's inputs change meaning
# Engine limits (rows per matrix): GitHub 256, GitLab 200 per parallel:matrix.
MAX_ROWS = 200
MAX_JSON_BYTES = 1_000_000  # GitHub: 1 MB of outputs per job
# Test row timeout, in seconds: boot_timeout + test_timeout x this many programs
# (a run where that many programs hang to their own timeout still ends in
# time; the others take a fraction of it), plus SETUP_S for fetching and
# unpacking the kernel artifact and the guest's root filesystem; times
# FOREIGN_FACTOR when the guest's arch is not the runner's (TCG).
PROGRAMS_AT_TIMEOUT = 3
SETUP_S = 600.0
FOREIGN_FACTOR = 2.5
MAX_TIMEOUT_MIN = 360  # GitHub-hosted runners stop a job at 6 h


def probe_toolchain(arch: Arch) -> Toolchain:
    """The compiler this host builds arch's kernels with, and its version line."""
    done = proc.run([arch.cc, "--version"], timeout=60)
    if not done.ok or not done.output.strip():
        raise InfraError(f"{arch.cc} --version failed: {done.tail(1)} (apt-get install {arch.cc_package})")
    return Toolchain(arch.cc, done.output.strip().splitlines()[0])


def source_identity(source: Source) -> str:
    """The base ref and where it comes from: the tarball's file name and sha256, or the tree's path."""
    if source.tarball is not None:
        return f"{source.base} tarball {source.tarball.name} sha256 {source.tarball_sha256}"
    return f"{source.base} tree {source.tree}"


def build_key(cell: Cell, source: Source, toolchain: Toolchain, series_id: str | None) -> str:
    """Short sha256 over what makes cell's kernel: arch, toolchain, fragments, source, series.

    The series counts by its identity (its patches' patch-ids), not its bytes: another version
    of it that changes only messages, trailers or the cover letter has the same key.
    """
    if (cell.kernel == "series") != (series_id is not None):
        raise ValueError(f"{cell.name}: a series identity exactly for series cells")
    h = hashlib.sha256()
    parts = [KEY_VERSION, cell.arch.name, toolchain.cc, toolchain.version, source_identity(source)]
    parts.append(f"series {series_id}" if series_id else "base")
    for part in parts:
        h.update(part.encode() + b"\0")
    for frag in fragments(cell):
        data = frag.read_bytes()
        h.update(f"fragment {len(data)}\0".encode() + data)
    return h.hexdigest()[: artifact.KEY_LENGTH]


def timeout_minutes(guest: GuestSettings, runtime: Runtime, foreign: bool) -> int:
    """The documented bound on one test row (see PROGRAMS_AT_TIMEOUT)."""
    programs = min(len(runtime.tests), PROGRAMS_AT_TIMEOUT) if runtime.tests else PROGRAMS_AT_TIMEOUT
    seconds = guest.boot_timeout + guest.test_timeout * programs
    if foreign:
        seconds *= FOREIGN_FACTOR
    return min(math.ceil((seconds + SETUP_S) / 60), MAX_TIMEOUT_MIN)


def make(
    matrix: Matrix,
    cells: Sequence[Cell],
    *,
    toolchain: ToolchainProbe = probe_toolchain,
    series_id: str | None = None,
    runners: Mapping[str, Runner] = DEFAULT_RUNNERS,
    build_runner: Runner = HOSTED,
    sweep: bool = True,
) -> Plan:
    """The plan for cells of matrix; series_id defaults to the identity of each cell's source's series.

    A build-only cell is refused (UserError): a CI test row would boot it. sweep: the
    sweep rows too (when cells test a series), else none.
    """
    check_bootable(cells)
    ids: dict[Path, str] = {}

    def series_of(cell: Cell) -> str | None:
        if cell.kernel != "series":
            return None
        if series_id is not None:
            return series_id
        return ids.get(cell.source.series) or ids.setdefault(
            cell.source.series, series_mod.load(cell.source.series).identity
        )

    toolchains: dict[str, Toolchain] = {}
    builds: dict[str, BuildRow] = {}
    tests: list[TestRow] = []
    for cell in cells:
        tc = toolchains.get(cell.arch.name) or toolchains.setdefault(cell.arch.name, toolchain(cell.arch))
        key = build_key(cell, cell.source, tc, series_of(cell))
        builds.setdefault(
            key,
            BuildRow(key, cell.arch.name, cell.name, cell.kernel, cell.kconfig.name, tc.version, build_runner.labels),
        )
        runner = runners.get(cell.arch.name, HOSTED)
        native = runner.machine == cell.arch.uname_m
        for rt in cell.runtimes:
            suite = SuiteId.of(cell, rt).name
            timeout = timeout_minutes(matrix.guest, rt, not native)
            tests.append(TestRow(suite, cell.name, rt.name, key, cell.arch.name, native, timeout, runner.labels))
    plan = Plan(tuple(builds.values()), tuple(tests), sweep_rows(matrix, cells, build_runner) if sweep else ())
    check(plan)
    return plan


def sweep_rows(matrix: Matrix, cells: Sequence[Cell], runner: Runner = HOSTED) -> tuple[SweepRow, ...]:
    """A row per toolchain of the matrix's [sweep], when cells test a series (a sweep compiles its patches).

    Only a [sweep] the matrix declares: without one, `zpfarm sweep` runs the default sweep locally,
    but CI plans none. Each row writes a suite per source; all run on the build runners (cross compilers).
    """
    if matrix.sweep is None or not matrix.sweep_declared or not any(cell.kernel is Kernel.SERIES for cell in cells):
        return ()
    sources = [src.name for src in matrix.sources]
    return tuple(
        SweepRow(
            tc.name, tc.target.name, tc.compiler.value, tuple(suite_name(tc.name, s) for s in sources), runner.labels
        )
        for tc in matrix.sweep.toolchains
    )


def check(plan: Plan, max_rows: int = MAX_ROWS) -> None:
    """UserError, saying how to shard, when a stage is over an engine's limits."""
    for stage in Stage:
        rows = len(plan.rows(stage))
        if rows > max_rows:
            raise UserError(
                f"the plan has {rows} {stage.value} rows, over the {max_rows} a CI matrix takes: "
                "shard it into pipelines with --cell globs (e.g. --cell 'base-*' and --cell 'series-*')"
            )
    size = len(plan.to_json().encode())
    if size > MAX_JSON_BYTES:
        raise UserError(f"the plan is {size} bytes of JSON, over a job output's {MAX_JSON_BYTES}: shard it with --cell")


def critical_path(plan: Plan, build_s: Mapping[str, float], test_s: Mapping[str, float]) -> float:
    """Seconds from start to the last result with a runner for every job: max(build + its test row)."""
    return max((build_s[row.key] + test_s[row.suite] for row in plan.tests), default=0.0)


def wall_time(plan: Plan, build_s: Mapping[str, float], test_s: Mapping[str, float], runners: int) -> float:
    """Seconds the plan takes on `runners` identical runners, list-scheduled.

    Longest jobs first; a test row becomes ready when its build ends; builds
    before tests when both are ready (they unlock more work). A model for
    sizing a fleet from measured job times, not a prediction of queueing.
    """
    if runners < 1:
        raise ValueError("runners must be >= 1")
    free = [0.0] * runners  # when each runner is next free
    done: dict[str, float] = {}
    builds = sorted(plan.builds, key=lambda b: -build_s[b.key])
    for build in builds:
        start = min(free)
        free[free.index(start)] = done[build.key] = start + build_s[build.key]
    tests = sorted(plan.tests, key=lambda t: (done[t.key], -test_s[t.suite]))
    end = max(done.values(), default=0.0)
    for row in tests:
        i = min(range(runners), key=lambda r: max(free[r], done[row.key]))
        free[i] = max(free[i], done[row.key]) + test_s[row.suite]
        end = max(end, free[i])
    return end
