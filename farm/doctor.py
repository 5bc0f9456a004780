"""Is this host ready? Each check says what is missing and which package fixes it."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from farm.host.cache import Cache
from farm.kernel import source as kernel_source
from farm.model import arches
from farm.model.errors import ZpfarmError
from farm.model.matrix import Source
from farm.vm.boot import vng

MIN_FREE_GB = 20


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""  # what to install or do when not ok
    needed_by: str = "all cells"


def _tool(name: str, package: str, needed_by: str = "all cells") -> Check:
    path = shutil.which(name)
    return Check(name, path is not None, path or "not found", f"apt-get install {package}", needed_by)


def checks(cache: Cache, sources: Sequence[Source]) -> list[Check]:
    out = [
        Check("virtme-ng", Path(vng()).is_file() or shutil.which("vng") is not None, vng(), "./install.sh"),
        _tool("udevadm", "udev"),
        _tool("make", "make"),
        _tool("gcc", "gcc"),
        _tool("ccache", "ccache"),
        _tool("flex", "flex"),
        _tool("bison", "bison"),
        _tool("bc", "bc"),
        _tool("git", "git"),
        _tool("busybox", "busybox-static"),
        *(_source(s, cache) for s in sources),
    ]
    for arch in arches.ARCHES.values():
        who = f"{arch.name} cells" + (" (build only)" if arch.build_only else "")
        if arch.qemu is not None:
            out.append(_tool(arch.qemu.binary, arch.qemu.packages[0], who))
        if not arch.native:
            out.append(_tool(arch.cc, arch.cc_package, who))
            if arch.qemu is not None:
                out.append(_tool("mmdebstrap", "mmdebstrap", who))
    out.append(_kvm(cache))
    out.append(_disk(cache))
    return out


def _source(source: Source, cache: Cache) -> Check:
    """A base's kernel source and the point release it resolves to, or why it does not."""
    name = f"kernel source {source.name or source.base}"
    who = f"{source.base} cells"
    if source.tree is not None:
        ok = (source.tree / ".git").exists()
        return Check(name, ok, f"{source.tree} at {source.base}", "a git checkout of the kernel (--kernel-tree)", who)
    try:
        resolved = kernel_source.resolve(source, cache)
    except ZpfarmError as e:
        return Check(name, False, str(e), "./install.sh", who)
    line = f"{resolved.line} -> " if resolved.line else ""
    detail = f"{line}{resolved.base} from {resolved.tarball} (sha256 {resolved.tarball_sha256[:12] or 'not recorded'})"
    return Check(name, True, detail, needed_by=who)


def _kvm(cache: Cache) -> Check:
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return Check("kvm", True, "no usable /dev/kvm: guests run under TCG (slower)", needed_by="speed only")
    try:
        known = json.loads(cache.host_facts.read_text())
    except (OSError, ValueError):
        return Check("kvm", True, "/dev/kvm present; the first run probes whether it boots", needed_by="speed only")
    works = known.get("kvm")
    detail = "KVM boots kernels" if works else "/dev/kvm present but a kernel did not boot under it: TCG"
    return Check("kvm", True, detail, needed_by="speed only")


def _disk(cache: Cache) -> Check:
    probe = cache.root if cache.root.exists() else cache.root.parent
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free / 2**30
    return Check(
        "disk", free >= MIN_FREE_GB, f"{free:.0f} GiB free under {probe}", f"free {MIN_FREE_GB} GiB or set --cache"
    )
