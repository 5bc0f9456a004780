"""What the farm needs to know per guest architecture: data, not branches."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from farm.model.errors import UserError

CONFIGS = Path(__file__).parent.parent / "configs"


class Accel(StrEnum):
    """How a guest's CPU runs: KVM, TCG (emulation), or auto (KVM if it really boots a kernel here).

    icount is TCG with QEMU's instruction counting: the guest's clock advances
    1 ns per instruction executed (and jumps over idle time), so what a guest
    program times is an instruction count, the same on every boot and free of
    the host's load and of how fast QEMU emulates this or that code. For
    benchmarks that compare two kernels on a machine without KVM.
    """

    AUTO = "auto"
    KVM = "kvm"
    TCG = "tcg"
    ICOUNT = "icount"


@dataclass(frozen=True)
class Qemu:
    """How the farm boots an arch's kernels: the machine vng runs, and what it needs installed."""

    binary: str  # qemu-system-* that vng runs
    packages: tuple[str, ...]  # qemu's Debian package first, then what the guest's root filesystem needs


@dataclass(frozen=True)
class Arch:
    name: str  # the farm's name, also vng --arch: x86_64, arm64, s390
    kernel_arch: str  # ARCH= for make
    image: str  # kernel image, relative to the build directory
    make_target: str
    cross_compile: str  # CROSS_COMPILE= prefix when not native, else ""
    cc_package: str  # the Debian package of {cross_compile}gcc
    uname_m: str  # what `uname -m` says on a host of this arch
    debian_arch: str  # for mmdebstrap --architectures
    qemu: Qemu | None  # None: the farm can build this arch's kernels but not boot them

    @property
    def build_only(self) -> bool:
        """Its cells are built (zpfarm build-each), never booted."""
        return self.qemu is None

    @property
    def packages(self) -> tuple[str, ...]:
        """Every Debian package the farm needs for this arch (install.sh installs them)."""
        return (*(self.qemu.packages if self.qemu else ()), self.cc_package)

    @property
    def base_config(self) -> Path:
        return CONFIGS / f"base-{self.name}.config"

    @property
    def native(self) -> bool:
        return platform.machine() == self.uname_m

    @property
    def cross_env(self) -> dict[str, str]:
        """ARCH and, when not native, CROSS_COMPILE for make and merge_config.sh."""
        env = {"ARCH": self.kernel_arch}
        if not self.native:
            env["CROSS_COMPILE"] = self.cross_compile
        return env

    @property
    def cc(self) -> str:
        return "gcc" if self.native else f"{self.cross_compile}gcc"


ARCHES: dict[str, Arch] = {
    a.name: a
    for a in (
        Arch(
            name="x86_64",
            kernel_arch="x86_64",
            image="arch/x86/boot/bzImage",
            make_target="bzImage",
            cross_compile="x86_64-linux-gnu-",
            cc_package="gcc-x86-64-linux-gnu",
            uname_m="x86_64",
            debian_arch="amd64",
            qemu=Qemu("qemu-system-x86_64", ("qemu-system-x86",)),
        ),
        Arch(
            name="arm64",
            kernel_arch="arm64",
            image="arch/arm64/boot/Image",
            make_target="Image",
            cross_compile="aarch64-linux-gnu-",
            cc_package="gcc-aarch64-linux-gnu",
            uname_m="aarch64",
            debian_arch="arm64",
            qemu=Qemu("qemu-system-aarch64", ("qemu-system-arm", "mmdebstrap")),
        ),
        # Cross-built only, so that the series' s390 patch compiles: the farm has no s390 guest.
        Arch(
            name="s390",
            kernel_arch="s390",
            image="arch/s390/boot/bzImage",
            make_target="bzImage",
            cross_compile="s390x-linux-gnu-",
            cc_package="gcc-s390x-linux-gnu",
            uname_m="s390x",
            debian_arch="s390x",
            qemu=None,
        ),
    )
}

ALIASES = {"amd64": "x86_64", "x86-64": "x86_64", "aarch64": "arm64", "s390x": "s390"}


def get(name: str) -> Arch:
    """The Arch for a name or alias; UserError naming the known ones otherwise."""
    arch = ARCHES.get(ALIASES.get(name, name))
    if arch is None:
        raise UserError(f"unknown arch {name!r} (known: {', '.join(ARCHES)})")
    return arch


def for_machine(uname_m: str) -> Arch:
    """The Arch of a machine that says uname_m (`uname -m`)."""
    for arch in ARCHES.values():
        if arch.uname_m == uname_m:
            return arch
    raise UserError(f"no zpfarm arch for a {uname_m!r} machine (known: {', '.join(ARCHES)})")
