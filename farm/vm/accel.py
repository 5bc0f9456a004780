"""KVM or TCG: probe whether KVM really boots a kernel, once per host.

/dev/kvm existing proves little (here it is a PVM host module on which a
stock kernel hangs at "Decompressing Linux"), so the farm boots the first
built kernel under KVM with a short timeout and remembers the answer in the
cache, keyed by what could change it. Guests booting at once wait for one
probe: the first takes the probe lock, the others find its answer.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from pathlib import Path

from farm.host import proc
from farm.host.cache import Cache
from farm.host.files import atomic_write
from farm.model.arches import Accel, Arch
from farm.vm.boot import vng, vng_env

PROBE_TIMEOUT_S = 45.0
Prober = Callable[[Path], bool]


def _host_key() -> str:
    return f"{platform.release()} {os.path.exists('/dev/kvm')}"


def resolve(
    choice: Accel, arch: Arch, image: Path, cache: Cache, notice: Callable[[str], None], prober: Prober | None = None
) -> Accel:
    """KVM or TCG for booting image; probes (once per host, whoever asks at once) when choice is auto."""
    if choice is not Accel.AUTO:
        return choice
    if not arch.native or not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return Accel.TCG
    with cache.lock("kvm-probe", lambda: notice("waiting for the KVM probe another guest runs")):
        known = _load(cache.host_facts)
        if known.get("key") == _host_key() and known.get("kvm") in (True, False):
            return Accel.KVM if known["kvm"] else Accel.TCG
        works = (prober or probe)(image)
        atomic_write(cache.host_facts, (json.dumps({"key": _host_key(), "kvm": works}) + "\n").encode())
    if not works:
        notice(f"KVM did not boot a kernel within {PROBE_TIMEOUT_S:.0f} s: using TCG (emulation, slower)")
    return Accel.KVM if works else Accel.TCG


def probe(image: Path) -> bool:
    """Does `vng --exec true` finish under KVM in time?"""
    argv = [vng(), "--run", str(image), "--memory", "512M", "--exec", "true"]
    done = proc.run(argv, env=vng_env(), timeout=PROBE_TIMEOUT_S)
    return done.ok


def _load(facts: Path) -> dict[str, object]:
    try:
        data = json.loads(facts.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}
