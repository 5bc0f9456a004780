"""A plan: the build and test jobs of a matrix, as rows a CI engine's matrix expands.

A build row is one kernel, named by its build key: a short sha256 over
everything that changes the kernel binary (arch, toolchain, the kconfig
fragments' contents, the source, the series). Runtime variants of a cell
share its build; thp-on and thp-off are different builds. A test row is one
boot: CELL/RUNTIME, the build key it boots, whether it wants KVM, a timeout
and the runner labels it goes to.

Serialised as {"build": {"include": [...]}, "test": {"include": [...]}};
each stage alone is the {"include": [...]} a GitHub matrix takes.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from farm.host import proc
from farm.kernel import artifact
from farm.kernel import series as series_mod
from farm.kernel.build import fragments
from farm.model import arches
from farm.model.arches import Arch
from farm.model.errors import InfraError, UserError
from farm.model.guest_settings import GuestSettings
from farm.model.matrix import Cell, Matrix, Runtime, Source, check_bootable
from farm.model.suite_id import SuiteId

KEY_VERSION = "zpfarm-build-key 1"  # bump when the key's inputs change meaning
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


class Stage(Enum):
    BUILD = "build"
    TEST = "test"


@dataclass(frozen=True)
class Toolchain:
    cc: str  # the compiler make runs: gcc, aarch64-linux-gnu-gcc
    version: str  # the first line of `cc --version`


ToolchainProbe = Callable[[Arch], Toolchain]


@dataclass(frozen=True)
class Runner:
    """Where rows of an arch run: CI runner labels, and the machine behind them."""

    labels: tuple[str, ...]
    machine: str  # `uname -m` of those runners: a guest of that arch gets KVM


HOSTED = Runner(("ubuntu-latest",), "x86_64")  # GitHub's hosted x86_64 runners open /dev/kvm
DEFAULT_RUNNERS: Mapping[str, Runner] = {"x86_64": HOSTED, "arm64": HOSTED}


@dataclass(frozen=True)
class BuildRow:
    key: str
    arch: str
    cell: str  # the (first) cell built from it: `zpfarm build --key` builds this cell
    kernel: str  # base or series
    kconfig: str
    toolchain: str  # the compiler's version line
    runs_on: tuple[str, ...]


@dataclass(frozen=True)
class TestRow:
    __test__ = False  # not a pytest class

    suite: str  # CELL/RUNTIME: the <testsuite> the row writes
    cell: str
    runtime: str
    key: str  # the build it boots
    arch: str
    wants_kvm: bool  # the runner's machine is the guest's arch
    timeout: int  # minutes, for the engine's per-job timeout
    runs_on: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    builds: tuple[BuildRow, ...]
    tests: tuple[TestRow, ...]

    def rows(self, stage: Stage) -> list[dict[str, Any]]:
        return [asdict(r) for r in (self.builds if stage is Stage.BUILD else self.tests)]

    def to_json(self, stage: Stage | None = None) -> str:
        """Compact JSON: the whole plan, or one stage's {"include": [...]}."""
        if stage is not None:
            data: dict[str, Any] = {"include": self.rows(stage)}
        else:
            data = {s.value: {"include": self.rows(s)} for s in Stage}
        return json.dumps(data, separators=(",", ":"))

    def build(self, key: str) -> BuildRow:
        for row in self.builds:
            if row.key == key:
                return row
        raise UserError(f"no build {key!r} in the plan (keys: {', '.join(r.key for r in self.builds) or 'none'})")

    def test(self, suite: str) -> TestRow:
        for row in self.tests:
            if row.suite == suite:
                return row
        raise UserError(f"no test row {suite!r} in the plan (rows: {', '.join(r.suite for r in self.tests)})")


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


def build_key(cell: Cell, source: Source, toolchain: Toolchain, series_hash: str | None) -> str:
    """Short sha256 over what makes cell's kernel: arch, toolchain, fragments, source, series."""
    if (cell.kernel == "series") != (series_hash is not None):
        raise ValueError(f"{cell.name}: a series hash exactly for series cells")
    h = hashlib.sha256()
    parts = [KEY_VERSION, cell.arch.name, toolchain.cc, toolchain.version, source_identity(source)]
    parts.append(f"series {series_hash}" if series_hash else "base")
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
    series_hash: str | None = None,
    runners: Mapping[str, Runner] = DEFAULT_RUNNERS,
    build_runner: Runner = HOSTED,
) -> Plan:
    """The plan for cells of matrix; series_hash defaults to the hash of each cell's source's series.

    A build-only cell is refused (UserError): a CI test row would boot it.
    """
    check_bootable(cells)
    hashes: dict[Path, str] = {}

    def series_of(cell: Cell) -> str | None:
        if cell.kernel != "series":
            return None
        if series_hash is not None:
            return series_hash
        return hashes.get(cell.source.series) or hashes.setdefault(
            cell.source.series, series_mod.load(cell.source.series).hash
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
    plan = Plan(tuple(builds.values()), tuple(tests))
    check(plan)
    return plan


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


def parse_runner(spec: str) -> tuple[str, Runner]:
    """ARCH=LABEL[,LABEL...][@MACHINE] -> (arch, Runner); MACHINE defaults to the arch's own."""
    arch_name, sep, rest = spec.partition("=")
    labels_text, _, machine = rest.partition("@")
    labels = tuple(label.strip() for label in labels_text.split(",") if label.strip())
    if not sep or not labels:
        raise UserError(f"--runner {spec!r}: expected ARCH=LABEL[,LABEL...][@MACHINE], e.g. arm64=self-hosted,arm64")
    arch = arches.get(arch_name.strip())
    return arch.name, Runner(labels, machine.strip() or arch.uname_m)


_R = TypeVar("_R", BuildRow, TestRow)


def load(path: Path) -> Plan:
    """A plan written by to_json()."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        builds = tuple(_row(BuildRow, r) for r in data[Stage.BUILD.value]["include"])
        tests = tuple(_row(TestRow, r) for r in data[Stage.TEST.value]["include"])
    except FileNotFoundError:
        raise UserError(f"{path}: no such plan file") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path}: not a zpfarm plan ({type(e).__name__}: {e})") from None
    return Plan(builds, tests)


def _row(kind: type[_R], raw: Mapping[str, Any]) -> _R:
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    return kind(**values)


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
