"""Root filesystems for guests of a foreign architecture (arm64 on an x86_64 host).

A native guest sees the host's root (virtme-ng's default). A foreign one
gets a Debian root made once with mmdebstrap's `extract` variant: packages
are unpacked, no maintainer script runs, so no emulation is needed. It is
rebuilt only when its package list changes.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from farm import proc
from farm.arches import Arch
from farm.cache import Cache
from farm.errors import InfraError

SUITE = "bookworm"
# python3 for the runner and the Python tests; util-linux for mount and dmesg;
# busybox-static as a shell and for anything else virtme-ng's init reaches for.
PACKAGES = ("python3", "util-linux", "busybox-static", "libc6", "procps")


def _digest(arch: Arch) -> str:
    return hashlib.sha256(f"{SUITE} {arch.debian_arch} {' '.join(PACKAGES)}".encode()).hexdigest()


def ensure(arch: Arch, cache: Cache, log: Path) -> Path:
    """The arch's root filesystem in the cache, made if missing or outdated."""
    root = cache.rootfs(arch.name)
    stamp = root / ".zpfarm-rootfs"
    if stamp.is_file() and stamp.read_text() == _digest(arch):
        return root
    tmp = root.with_name(root.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    done = proc.run(
        [
            "mmdebstrap",
            "--variant=extract",
            f"--architectures={arch.debian_arch}",
            f"--include={','.join(PACKAGES)}",
            SUITE,
            str(tmp),
        ],
        log=log,
        timeout=1800,
    )
    if not done.ok:
        raise InfraError(f"mmdebstrap could not make the {arch.name} root filesystem: {done.tail(2)} (see {log})")
    _finish(tmp)
    (tmp / ".zpfarm-rootfs").write_text(_digest(arch))
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return root


def _finish(root: Path) -> None:
    """What maintainer scripts would have done and the guest needs."""
    sh = root / "bin" / "sh"
    if not sh.exists():
        sh.symlink_to("dash" if (root / "bin" / "dash").exists() else "busybox")
    for d in ("proc", "sys", "dev", "run", "tmp"):
        (root / d).mkdir(exist_ok=True)
