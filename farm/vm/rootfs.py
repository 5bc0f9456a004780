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

from farm.host import proc
from farm.host.cache import Cache
from farm.model.arches import Arch
from farm.model.errors import InfraError

SUITE = "bookworm"
# On a foreign arch vng runs its bash init (virtme-init) from this root: it needs
# bash, coreutils, mount, setsid (util-linux), udev (for the virtio-serial
# script ports) and `poweroff -f` (busybox). python3 runs the Python tests and
# the selftests' adapter (the runner itself is a static binary).
PACKAGES = (
    "libc6", "bash", "coreutils", "util-linux", "mount", "udev", "sed", "grep",
    "iproute2", "busybox-static", "python3",
)  # fmt: skip
MERGED_USR_HOOK = "/usr/share/mmdebstrap/hooks/merged-usr"


_RECIPE = "2"  # bump when _finish() changes: forces a rebuild


def _digest(arch: Arch) -> str:
    return hashlib.sha256(f"{_RECIPE} {SUITE} {arch.debian_arch} {' '.join(PACKAGES)}".encode()).hexdigest()


def ensure(arch: Arch, cache: Cache, log: Path) -> Path:
    """The arch's root filesystem in the cache, made if missing or outdated (one maker at a time)."""
    root = cache.rootfs(arch.name)
    stamp = root / ".zpfarm-rootfs"
    if stamp.is_file() and stamp.read_text() == _digest(arch):
        return root
    with cache.lock(f"rootfs-{arch.name}"):
        if stamp.is_file() and stamp.read_text() == _digest(arch):
            return root  # made while this run waited
        return _make(arch, root, log)


def _make(arch: Arch, root: Path, log: Path) -> Path:
    tmp = root.with_name(root.name + ".new")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)
    done = proc.run(
        [
            "mmdebstrap",
            "--variant=extract",
            f"--architectures={arch.debian_arch}",
            f"--hook-dir={MERGED_USR_HOOK}",
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
    """What maintainer scripts would have done and the guest's init needs."""
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    (root / "etc" / "group").write_text("root:x:0:\ntty:x:5:\ndisk:x:6:\nkvm:x:104:\nnogroup:x:65534:\n")
    sh = root / "usr" / "bin" / "sh"  # vng boots init=/bin/sh virtme-init; dash's postinst would make it
    sh.unlink(missing_ok=True)
    sh.symlink_to("bash")
    poweroff = root / "usr" / "sbin" / "poweroff"  # virtme-init ends with `poweroff -f`
    poweroff.unlink(missing_ok=True)
    poweroff.symlink_to("/bin/busybox")
