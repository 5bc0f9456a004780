"""Boot a kernel with virtme-ng and run the guest runner in it.

The host prepares a share directory (runner, plan, test programs), gives it
to the guest read-write, and reads results.ktap back from it afterwards, so
results never depend on parsing the console. vng's output (the kernel
console, with --verbose) is kept as console.log for the console scanner.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from farm.guest import runner
from farm.host import proc
from farm.model.arches import Accel
from farm.model.errors import UserError
from farm.model.guest_settings import GuestSettings
from farm.model.matrix import Runtime
from farm.model.programs import GuestTest
from farm.model.results import Booted

GUEST_SHARE = "/run/zpfarm-share"  # where the guest sees the share directory


def vng() -> str:
    """$ZPFARM_VNG when set (the tests' fake vng), else virtme-ng from the farm's own venv, else from PATH."""
    chosen = os.environ.get("ZPFARM_VNG")
    if chosen:
        if not (os.path.isfile(chosen) and os.access(chosen, os.X_OK)):
            raise UserError(f"ZPFARM_VNG={chosen}: not an executable file")
        return chosen
    beside = Path(sys.executable).parent / "vng"
    return str(beside) if beside.is_file() else "vng"


def vng_env() -> dict[str, str]:
    """vng runs its helpers (virtme-run) by name: they must be on PATH."""
    return {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', os.defpath)}"}


@dataclass(frozen=True)
class Boot:
    image: Path
    arch: str
    runner: Path  # the guest runner built for arch (farm/guest/runner.py)
    accel: Accel  # KVM, TCG or ICOUNT
    guest: GuestSettings
    runtime: Runtime
    rootfs: Path | None = None  # foreign arch: the guest's root filesystem
    kconfig_cmdline: tuple[str, ...] = ()  # the build's kernel parameters, before the runtime's


def vng_argv(boot: Boot, share: Path) -> list[str]:
    """The vng command line: one flag per typed field, the guest command as one element."""
    argv = [vng(), "--run", str(boot.image), "--verbose"]
    argv += ["--memory", boot.guest.memory, "--cpus", str(boot.guest.cpus)]
    # 9p only: the farm's configs have no virtiofs, and vng's virtiofsd probe costs seconds.
    argv += ["--force-9p", f"--rwdir={GUEST_SHARE}={share}"]
    if boot.accel in (Accel.TCG, Accel.ICOUNT):
        argv.append("--disable-kvm")
    if boot.accel is Accel.ICOUNT:
        argv += ["--qemu-opts", "-icount shift=0,sleep=off"]
    if boot.rootfs is not None:
        argv += ["--arch", boot.arch, "--root", str(boot.rootfs)]
    for option in (*boot.kconfig_cmdline, *boot.runtime.cmdline):
        argv += ["--append", option]
    argv += ["--exec", f"{GUEST_SHARE}/{runner.NAME}"]
    return argv


def prepare_share(
    share: Path, runner_binary: Path, runtime: Runtime, tests: Sequence[GuestTest], vm: bool = True
) -> None:
    """A fresh share directory holding the runner, the plan and the tests.

    vm=False: the runner runs on a real host, which outlives it: it unmounts its
    tmpfs instances and saves dmesg (a VM powers off, and its console has dmesg).
    """
    if share.exists():
        shutil.rmtree(share)
    share.mkdir(parents=True)
    shutil.copy2(runner_binary, share / runner.NAME)
    for test in tests:
        for f in test.files:
            shutil.copy2(f, share / f.name)
    (share / "plan.txt").write_text(runner.plan(runtime, tests, vm))


def boot(boot: Boot, tests: Sequence[GuestTest], share: Path, console: Path, on_line: Callable[[str], None]) -> Booted:
    """Run the tests in a guest; a hung guest is killed at the overall timeout."""
    prepare_share(share, boot.runner, boot.runtime, tests)
    timeout = boot.guest.boot_timeout + sum(t.timeout for t in tests)
    done = proc.run(vng_argv(boot, share), env=vng_env(), log=console, timeout=timeout, on_line=on_line)
    results = share / "results.ktap"
    return Booted(
        returncode=done.returncode,
        elapsed=done.elapsed,
        timed_out=done.timed_out,
        finished=(share / "done").is_file(),
        ktap=results.read_text(encoding="utf-8", errors="replace") if results.is_file() else "",
        console=console,
        accel=boot.accel.value,
    )
