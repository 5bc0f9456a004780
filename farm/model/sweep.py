"""The build sweep's values: the toolchains it compiles with and the matrix's [sweep] table.

A sweep compiles the objects each patch of the series touches under many
configs (allnoconfig, tinyconfig, defconfig, allmodconfig and seeded
randconfigs) with many toolchains (an arch and a compiler). Which ones is
data, here and in the matrix, never a branch in the code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from farm.model.errors import UserError
from farm.model.table import Table


class Compiler(StrEnum):
    GCC = "gcc"
    CLANG = "clang"


# The clang a sweep uses by default: the kernel's LLVM=-19 picks clang-19, ld.lld-19, llvm-ar-19...
# Debian 12 has clang-16 and clang-19; Linux 7.x refuses clang older than 17, 6.12 takes either.
DEFAULT_CLANG_VERSION = 19
SUITE_RUNTIME = "sweep"  # a sweep suite is TOOLCHAIN[-SOURCE]/sweep
CONFIG_TARGETS = ("allnoconfig", "tinyconfig", "defconfig", "allmodconfig", "allyesconfig")


@dataclass(frozen=True)
class Target:
    """An arch as the sweep compiles for it (a superset of the arches the farm boots)."""

    name: str  # the sweep's name: x86_64, i386, arm64, s390, riscv64, powerpc64le
    kernel_arch: str  # ARCH=
    cross_compile: str  # CROSS_COMPILE= for gcc (always given: Debian's cross gcc, or the native one's name)
    gcc_package: str  # the Debian package of {cross_compile}gcc
    arch_dir: str  # arch/<dir>: objects under another arch's directory are not compiled for this one
    defconfig: str = "defconfig"  # the make target the sweep's "defconfig" means
    forced: tuple[str, ...] = ()  # config lines every config of this target gets (64-bit, endianness)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("x86_64", "x86_64", "x86_64-linux-gnu-", "gcc-x86-64-linux-gnu", "x86"),
        Target("i386", "i386", "i686-linux-gnu-", "gcc-i686-linux-gnu", "x86"),
        Target("arm64", "arm64", "aarch64-linux-gnu-", "gcc-aarch64-linux-gnu", "arm64"),
        Target("s390", "s390", "s390x-linux-gnu-", "gcc-s390x-linux-gnu", "s390"),
        Target("riscv64", "riscv", "riscv64-linux-gnu-", "gcc-riscv64-linux-gnu", "riscv", forced=("CONFIG_64BIT=y",)),
        Target(
            "powerpc64le",
            "powerpc",
            "powerpc64le-linux-gnu-",
            "gcc-powerpc64le-linux-gnu",
            "powerpc",
            defconfig="ppc64le_defconfig",
            forced=("CONFIG_PPC64=y", "CONFIG_CPU_LITTLE_ENDIAN=y"),
        ),
    )
}


@dataclass(frozen=True)
class Toolchain:
    """One arch with one compiler: a JUnit suite of the sweep."""

    target: Target
    compiler: Compiler
    clang_version: int = DEFAULT_CLANG_VERSION

    @property
    def name(self) -> str:
        return f"{self.target.name}-{self.compiler}"

    @property
    def llvm(self) -> str:
        """LLVM= for make: the version suffix of clang-N, ld.lld-N, llvm-ar-N..."""
        return f"-{self.clang_version}"

    @property
    def binaries(self) -> tuple[str, ...]:
        """What must be on PATH for it to compile anything."""
        if self.compiler is Compiler.CLANG:
            return (f"clang{self.llvm}", f"ld.lld{self.llvm}", f"llvm-ar{self.llvm}")
        return (f"{self.target.cross_compile}gcc",)

    @property
    def packages(self) -> tuple[str, ...]:
        """The Debian packages that provide binaries."""
        if self.compiler is Compiler.CLANG:
            return (f"clang{self.llvm}", f"lld{self.llvm}", f"llvm{self.llvm}")
        return (self.target.gcc_package,)

    @property
    def cc(self) -> str:
        return f"clang{self.llvm}" if self.compiler is Compiler.CLANG else f"{self.target.cross_compile}gcc"

    def make_vars(self) -> dict[str, str]:
        """ARCH= and the compiler's variables (make reads them from the environment too)."""
        env = {"ARCH": self.target.kernel_arch}
        if self.compiler is Compiler.CLANG:
            env["LLVM"] = self.llvm
        else:
            env["CROSS_COMPILE"] = self.target.cross_compile
        return env


def row_name(toolchain: str, source: str) -> str:
    """A sweep's reporter row and its suite's first half: TOOLCHAIN, then -SOURCE when the matrix has several."""
    return toolchain + (f"-{source}" if source else "")


def suite_name(toolchain: str, source: str) -> str:
    """The <testsuite> a sweep of toolchain over one source writes: x86_64-gcc/sweep, x86_64-gcc-v6.12/sweep."""
    return f"{row_name(toolchain, source)}/{SUITE_RUNTIME}"


@dataclass(frozen=True)
class Config:
    """One config a sweep prepares per toolchain: a make target, with a seed for randconfig."""

    target: str  # allnoconfig, tinyconfig, defconfig, allmodconfig, randconfig
    seed: int | None = None  # KCONFIG_SEED, randconfig only

    @property
    def name(self) -> str:
        return f"randconfig-{self.seed}" if self.seed is not None else self.target


@dataclass(frozen=True)
class Sweep:
    """The matrix's [sweep] table, with its defaults: the issue's sweep."""

    configs: tuple[Config, ...]
    toolchains: tuple[Toolchain, ...]
    header_users: int = 3  # per changed header: this many other objects of its directories that include it
    bias: bool = True  # randconfigs set the CONFIG_ options the touched files test, at random per seed


DEFAULT_CONFIGS = ("allnoconfig", "tinyconfig", "defconfig", "allmodconfig")
DEFAULT_ARCHES = ("x86_64", "i386", "arm64", "s390", "riscv64", "powerpc64le")
DEFAULT_CLANG = ("x86_64", "arm64")
DEFAULT_RANDCONFIGS = 2
FIRST_SEED = 1


def parse(t: Table) -> Sweep:
    """[sweep] -> Sweep; an absent table is the default sweep. UserError names the key."""
    t.check_keys(
        ["configs", "randconfigs", "seeds", "arches", "compilers", "clang_arches", "clang", "header_users", "bias"]
    )
    configs = _known(t, "configs", DEFAULT_CONFIGS, CONFIG_TARGETS)
    arches = _known(t, "arches", DEFAULT_ARCHES, TARGETS)
    compilers = _known(t, "compilers", tuple(Compiler), [c.value for c in Compiler])
    clang_arches = _known(t, "clang_arches", DEFAULT_CLANG, TARGETS)
    seeds: list[int] = t.get("seeds", list, [])
    if not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**32 for s in seeds):
        raise UserError(f"{t.where}: 'seeds' must be a list of integers 0 .. 2**32-1")
    count = t.get("randconfigs", int, len(seeds) if seeds else DEFAULT_RANDCONFIGS)
    if count < 0 or (seeds and count != len(seeds)):
        raise UserError(f"{t.where}: 'randconfigs' must be >= 0 and, with 'seeds', the number of seeds")
    seeds = seeds or list(range(FIRST_SEED, FIRST_SEED + count))
    users = t.get("header_users", int, 3)
    if users < 0:
        raise UserError(f"{t.where}: 'header_users' must be 0 or more, not {users}")
    clang = t.get("clang", int, DEFAULT_CLANG_VERSION)
    if not 10 <= clang <= 99:
        raise UserError(f"{t.where}: 'clang' is clang's major version (clang-19: 19), not {clang}")
    toolchains = [
        Toolchain(TARGETS[a], Compiler(c), clang)
        for a in arches
        for c in compilers
        if c == Compiler.GCC or a in clang_arches
    ]
    if not configs and not seeds:
        raise UserError(f"{t.where}: no config: list 'configs' or ask for 'randconfigs'")
    if not toolchains:
        raise UserError(f"{t.where}: no toolchain: 'arches' x 'compilers' (clang only on 'clang_arches') is empty")
    return Sweep(
        configs=(*(Config(c) for c in configs), *(Config("randconfig", s) for s in seeds)),
        toolchains=tuple(toolchains),
        header_users=users,
        bias=t.get("bias", bool, True),
    )


def _known(t: Table, key: str, default: Iterable[str], known: Iterable[str]) -> list[str]:
    values = t.strings(key) if key in t.data else list(default)
    names = list(known)
    for v in values:
        if v not in names:
            raise UserError(f"{t.where}: {key}: unknown value {v!r} (known: {', '.join(names)})")
    if len(set(values)) != len(values):
        raise UserError(f"{t.where}: {key}: a value is listed twice")
    return values
