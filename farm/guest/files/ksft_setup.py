#!/usr/bin/env python3
"""Prepare the guest for the kernel's mm selftests; one TAP result per step.

Guest side, standard library only (the arm64 guest has python3-minimal).
Runs once before the selftests; what it sets up stays for the rest of the
boot. A step that cannot be done is "not ok" with the reason, because the
selftests would silently skip the cases that need it:

  debugfs     mounted on /sys/kernel/debug (gup_test's /sys/kernel/debug/gup_test)
  tmp         a tmpfs on /tmp: tmpfile(3) (cow, gup_longterm) fails on vng's /tmp
  gup_test    that file exists (CONFIG_GUP_TEST): gup_test, and the R/O pin
              cases of cow and gup_longterm, need it
  swap        a zram swap device (CONFIG_ZRAM, CONFIG_SWAP): cow's
              MADV_PAGEOUT cases skip without swap
  hugetlb-*   free hugetlb pages per size (CONFIG_HUGETLBFS): cow,
              gup_longterm, gup_test and uffd-unit-tests have hugetlb cases
Arguments: liburing=yes|no says how the selftests were built (a skip when no).
"""

from __future__ import annotations

import os
import subprocess
import sys

DEBUGFS = "/sys/kernel/debug"
HUGEPAGES = "/sys/kernel/mm/hugepages"
ZRAM_SIZE = "512M"  # zram stores compressed pages: costs only what is swapped out
DEFAULT_HUGETLB_KB = 256 * 1024  # run_vmtests.sh's minimum for the default size
OTHER_HUGETLB_PAGES = 4  # cow needs a couple of free pages of every size
MAX_OTHER_KB = 64 * 1024  # a 1 GiB page is half of a 2G guest: not reserved


class Tap:
    def __init__(self) -> None:
        self.count = 0
        self.failed = 0
        print("TAP version 13", flush=True)

    def result(self, ok: bool, name: str, why: str = "", skip: str = "") -> None:
        self.count += 1
        if why:
            print(f"# {why}", flush=True)
        if skip:
            print(f"ok {self.count} {name} # SKIP {skip}", flush=True)
            return
        self.failed += 0 if ok else 1
        print(f"{'ok' if ok else 'not ok'} {self.count} {name}", flush=True)


def tool(name: str) -> list[str] | None:
    """argv prefix for a util-linux tool, else busybox's applet."""
    dirs = [*os.environ.get("PATH", "").split(":"), "/sbin", "/usr/sbin", "/bin", "/usr/bin"]
    for exe in (name, "busybox"):
        for d in dirs:
            path = os.path.join(d, exe)
            if d and os.access(path, os.X_OK):
                return [path] if exe == name else [path, name]
    return None


def run(argv: list[str]) -> str:
    """'' when argv succeeded, else why not."""
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{argv[0]}: {e}"
    if done.returncode:
        out = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
        return f"{' '.join(argv)}: exit {done.returncode}: {out[-1] if out else ''}"
    return ""


def write(path: str, value: str) -> str:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        return f"cannot write {value!r} to {path}: {e.strerror}"
    return ""


def read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def debugfs(tap: Tap) -> None:
    why = "" if os.path.ismount(DEBUGFS) else run(["mount", "-t", "debugfs", "debugfs", DEBUGFS])
    tap.result(not why, "debugfs", why)
    present = os.path.exists(f"{DEBUGFS}/gup_test")
    tap.result(present, "gup_test", "" if present else f"no {DEBUGFS}/gup_test: CONFIG_GUP_TEST is not set")


def tmp(tap: Tap) -> None:
    """cow's and gup_longterm's "tmpfile" cases call tmpfile(3) in /tmp, which
    under vng is an overlay on the 9p root where that fails: use a tmpfs."""
    fstype = ""
    for line in read("/proc/mounts").splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[1] == "/tmp":
            fstype = fields[2]  # the last mount on /tmp wins
    if fstype == "tmpfs":
        tap.result(True, "tmp", "/tmp is a tmpfs")
        return
    why = run(["mount", "-t", "tmpfs", "-o", "size=25%", "zpfarm-tmp", "/tmp"])
    tap.result(not why, "tmp", why or f"tmpfs mounted on /tmp (was {fstype or 'the root filesystem'})")


def swap(tap: Tap) -> None:
    active = read("/proc/swaps").splitlines()[1:]
    if active:
        tap.result(True, "swap", f"swap already on: {active[0].split()[0]}")
        return
    device = "zram0"
    if not os.path.isdir(f"/sys/block/{device}"):
        added = read("/sys/class/zram-control/hot_add")
        if not added:
            tap.result(False, "swap", "no zram device (CONFIG_ZRAM is not set): cow's MADV_PAGEOUT cases will skip")
            return
        device = f"zram{added}"
    mkswap, swapon = tool("mkswap"), tool("swapon")
    if mkswap is None or swapon is None:
        tap.result(False, "swap", "neither mkswap/swapon nor busybox in the guest")
        return
    why = (
        write(f"/sys/block/{device}/disksize", ZRAM_SIZE)
        or run([*mkswap, f"/dev/{device}"])
        or run([*swapon, f"/dev/{device}"])
    )
    tap.result(not why, "swap", why or f"{ZRAM_SIZE} swap on /dev/{device}")


def meminfo(key: str) -> int:
    for line in read("/proc/meminfo").splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def hugetlb(tap: Tap) -> None:
    default_kb = meminfo("Hugepagesize")
    if not default_kb or not os.path.isdir(HUGEPAGES):
        tap.result(False, "hugetlb", "no hugetlb pages (CONFIG_HUGETLBFS is not set)")
        return
    write("/proc/sys/vm/drop_caches", "3")
    for entry in sorted(os.listdir(HUGEPAGES), key=lambda e: int(e.split("-")[1].removesuffix("kB"))):
        kb = int(entry.split("-")[1].removesuffix("kB"))
        name = f"hugetlb-{kb}kB"
        if kb == default_kb:
            # run_vmtests.sh: 256 MiB, and at least 2 per CPU for uffd-unit-tests.
            want = max(DEFAULT_HUGETLB_KB // kb, 2 * (os.cpu_count() or 1))
        elif kb <= MAX_OTHER_KB:
            want = OTHER_HUGETLB_PAGES
        else:
            tap.result(True, name, skip=f"not reserved (over {MAX_OTHER_KB} kB): the selftests skip this size")
            continue
        why = write(f"{HUGEPAGES}/{entry}/nr_hugepages", str(want))
        if why.endswith("Invalid argument") and kb != default_kb:
            # A gigantic size (arm64's 32 MiB with 4K pages) without CONFIG_CONTIG_ALLOC: boot-time only.
            tap.result(True, name, skip=f"cannot be allocated at run time ({why}): the selftests skip this size")
            continue
        got = int(read(f"{HUGEPAGES}/{entry}/free_hugepages") or 0)
        tap.result(got >= want, name, f"{got} of {want} free {kb} kB pages{': ' + why if why else ''}")


def main(args: list[str]) -> int:
    tap = Tap()
    print(f"# kernel {os.uname().release}, THP {read('/sys/kernel/mm/transparent_hugepage/enabled') or 'absent'}")
    debugfs(tap)
    tmp(tap)
    swap(tap)
    hugetlb(tap)
    if "liburing=no" in args:
        why = "selftests built without liburing: the io_uring cases of cow and gup_longterm skip"
        tap.result(True, "liburing", skip=why)
    print(f"1..{tap.count}", flush=True)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
