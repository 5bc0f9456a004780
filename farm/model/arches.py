"""What the farm needs to know per guest architecture: data, not branches."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from farm.model.errors import UserError

CONFIGS = Path(__file__).parent.parent / "configs"


class Accel(StrEnum):
    """How a guest's CPU runs: KVM, TCG (emulation), or auto (KVM if it really boots a kernel here)."""

    AUTO = "auto"
    KVM = "kvm"
    TCG = "tcg"


@dataclass(frozen=True)
class Arch:
    name: str  # the farm's name, also vng --arch: x86_64, arm64
    kernel_arch: str  # ARCH= for make
    image: str  # kernel image, relative to the build directory
    make_target: str
    cross_compile: str  # CROSS_COMPILE= prefix when not native, else ""
    qemu: str  # qemu-system-* binary vng will run
    uname_m: str  # what `uname -m` says on a host of this arch
    debian_arch: str  # for mmdebstrap --architectures
    # Packages doctor asks for when the pieces above are missing.
    packages: tuple[str, ...]

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
            qemu="qemu-system-x86_64",
            uname_m="x86_64",
            debian_arch="amd64",
            packages=("qemu-system-x86", "gcc-x86-64-linux-gnu"),
        ),
        Arch(
            name="arm64",
            kernel_arch="arm64",
            image="arch/arm64/boot/Image",
            make_target="Image",
            cross_compile="aarch64-linux-gnu-",
            qemu="qemu-system-aarch64",
            uname_m="aarch64",
            debian_arch="arm64",
            packages=("qemu-system-arm", "gcc-aarch64-linux-gnu", "mmdebstrap"),
        ),
    )
}

ALIASES = {"amd64": "x86_64", "x86-64": "x86_64", "aarch64": "arm64"}


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
