"""A suite's identity: which kernel, which cell, which runtime; its name is made and read here only.

A suite of a run is named CELL/RUNTIME, and a cell KERNEL-ARCH-KCONFIG[-SOURCE]: base and
series of one (arch, kconfig, source, runtime) share a pair key, which is how a run's base
is compared with its series. Suites of other jobs (build-each's, the setup error "zpfarm",
host-test's "host") have no kernel and no runtime.
"""

from __future__ import annotations

from dataclasses import dataclass

from farm.model.matrix import KERNELS, Cell, Kernel, Runtime


@dataclass(frozen=True)
class SuiteId:
    cell: str  # the cell's name, or the whole name of a suite that is not a cell's boot
    runtime: str = ""
    kernel: Kernel | None = None

    @classmethod
    def of(cls, cell: Cell, runtime: Runtime) -> SuiteId:
        return cls(cell.name, runtime.name, cell.kernel)

    @classmethod
    def parse(cls, name: str) -> SuiteId:
        """The identity in a suite's name, as JUnit files (this run's or another job's) carry it."""
        cell, _, runtime = name.partition("/")
        first, dash, _ = cell.partition("-")
        kernel = Kernel(first) if dash and first in KERNELS else None
        return cls(cell, runtime, kernel)

    @property
    def name(self) -> str:
        return f"{self.cell}/{self.runtime}" if self.runtime else self.cell

    @property
    def pair_key(self) -> str:
        """The name without the kernel: the same for a base suite and its series suite."""
        return self.name.removeprefix(f"{self.kernel}-") if self.kernel else self.name
