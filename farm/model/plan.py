"""A plan's values: the build, test and sweep rows a CI engine's matrix expands, and the plan file they are read from.

Serialised as {"build": {"include": [...]}, "test": {"include": [...]}, "sweep": {"include": [...]}};
each stage alone is the {"include": [...]} a GitHub matrix takes. A plan file is input from
another job: a sweep row's names, which become job names, file names and --only globs, are checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from farm.model import arches
from farm.model import sweep as sweep_mod
from farm.model.arches import Arch
from farm.model.errors import UserError
from farm.model.table import NAME


class Stage(Enum):
    BUILD = "build"
    TEST = "test"
    SWEEP = "sweep"


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


_LABEL = re.compile(r"[^\x00-\x1f\x7f]{1,200}")  # a runner label: any printable text


@dataclass(frozen=True)
class SweepRow:
    """One toolchain of the matrix's [sweep]: `zpfarm sweep --only 'TOOLCHAIN/*'`, beside the builds."""

    toolchain: str  # ARCH-COMPILER: x86_64-gcc, arm64-clang
    arch: str  # the sweep's target (x86_64, i386, s390, riscv64, powerpc64le...)
    compiler: str  # gcc or clang
    suites: tuple[str, ...]  # the <testsuite>s it writes: TOOLCHAIN[-SOURCE]/sweep, one per source
    runs_on: tuple[str, ...]

    def __post_init__(self) -> None:
        """ValueError unless every name is one the farm makes (the toolchain names files and jobs)."""
        if self.arch not in sweep_mod.TARGETS or self.compiler not in [c.value for c in sweep_mod.Compiler]:
            raise ValueError(f"sweep row {self.toolchain!r}: unknown arch {self.arch!r} or compiler {self.compiler!r}")
        if self.toolchain != f"{self.arch}-{self.compiler}":
            raise ValueError(
                f"sweep row {self.toolchain!r}: the toolchain is ARCH-COMPILER ({self.arch}-{self.compiler})"
            )
        suites = self.suites if isinstance(self.suites, tuple) else ()
        if not suites or not all(
            s == sweep_mod.suite_name(self.toolchain, "") or self._source_suite(s) for s in suites
        ):
            raise ValueError(
                f"sweep row {self.toolchain}: suites must be {self.toolchain}[-SOURCE]/sweep, not {self.suites!r}"
            )
        labels = self.runs_on if isinstance(self.runs_on, tuple) else ()
        if not labels or not all(isinstance(label, str) and _LABEL.fullmatch(label) for label in labels):
            raise ValueError(f"sweep row {self.toolchain}: runs_on must be runner labels, not {self.runs_on!r}")

    def _source_suite(self, suite: object) -> bool:
        prefix, suffix = f"{self.toolchain}-", f"/{sweep_mod.SUITE_RUNTIME}"
        if not isinstance(suite, str) or not suite.startswith(prefix) or not suite.endswith(suffix):
            return False
        source = suite[len(prefix) : -len(suffix)]
        return bool(NAME.fullmatch(source)) and ".." not in source


@dataclass(frozen=True)
class Plan:
    builds: tuple[BuildRow, ...]
    tests: tuple[TestRow, ...]
    sweeps: tuple[SweepRow, ...] = ()

    def rows(self, stage: Stage) -> list[dict[str, Any]]:
        chosen: tuple[BuildRow, ...] | tuple[TestRow, ...] | tuple[SweepRow, ...] = (
            self.builds if stage is Stage.BUILD else self.tests if stage is Stage.TEST else self.sweeps
        )
        return [asdict(r) for r in chosen]

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


def parse_runner(spec: str) -> tuple[str, Runner]:
    """ARCH=LABEL[,LABEL...][@MACHINE] -> (arch, Runner); MACHINE defaults to the arch's own."""
    arch_name, sep, rest = spec.partition("=")
    labels_text, _, machine = rest.partition("@")
    labels = tuple(label.strip() for label in labels_text.split(",") if label.strip())
    if not sep or not labels:
        raise UserError(f"--runner {spec!r}: expected ARCH=LABEL[,LABEL...][@MACHINE], e.g. arm64=self-hosted,arm64")
    arch = arches.get(arch_name.strip())
    return arch.name, Runner(labels, machine.strip() or arch.uname_m)


_R = TypeVar("_R", BuildRow, TestRow, SweepRow)


def load(path: Path) -> Plan:
    """A plan written by to_json() (one without a sweep stage has no sweep rows)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        builds = tuple(_row(BuildRow, r) for r in data[Stage.BUILD.value]["include"])
        tests = tuple(_row(TestRow, r) for r in data[Stage.TEST.value]["include"])
        sweep_rows = data[Stage.SWEEP.value]["include"] if Stage.SWEEP.value in data else []
        sweeps = tuple(_row(SweepRow, r) for r in sweep_rows)
    except FileNotFoundError:
        raise UserError(f"{path}: no such plan file") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path}: not a zpfarm plan ({type(e).__name__}: {e})") from None
    if len({row.toolchain for row in sweeps}) != len(sweeps):
        raise UserError(f"{path}: not a zpfarm plan (a sweep toolchain is listed twice)")
    return Plan(builds, tests, sweeps)


def _row(kind: type[_R], raw: Mapping[str, Any]) -> _R:
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    return kind(**values)
