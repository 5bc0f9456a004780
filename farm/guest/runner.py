#!/usr/bin/env python3
"""zpfarm's guest runner: runs inside the VM, standard library only.

It reads plan.json from its own directory (the host's shared read-write
directory), applies the runtime variant's sysfs settings, mounts the tmpfs
instances the tests use, then runs each test program with a timeout and
appends its KTAP output, nested, to results.ktap as it goes: a crash or a
hung kernel leaves every earlier result on the host. Around each program it
writes "zpfarm: begin/end <name>" to /dev/kmsg so the host can tell which
test was running when the kernel complained.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TMPFS = Path("/run/zpfarm/tmpfs")
TMPFS_HUGE = Path("/run/zpfarm/tmpfs-huge")
THP = Path("/sys/kernel/mm/transparent_hugepage")


def kmsg(text: str) -> None:
    try:
        with open("/dev/kmsg", "w") as f:
            f.write(f"zpfarm: {text}\n")
    except OSError:
        pass


class Ktap:
    """results.ktap, written and flushed line by line."""

    def __init__(self, path: Path, count: int) -> None:
        self.f = path.open("w", encoding="utf-8")
        self.n = 0
        self.line(f"KTAP version 1\n1..{count}")

    def line(self, text: str) -> None:
        self.f.write(text + "\n")
        self.f.flush()
        os.fsync(self.f.fileno())

    def result(self, ok: bool, name: str, directive: str = "", diagnostics: tuple[str, ...] = ()) -> None:
        self.n += 1
        for d in diagnostics:
            self.line(f"# {d}")
        suffix = f" # {directive}" if directive else ""
        self.line(f"{'ok' if ok else 'not ok'} {self.n} {name}{suffix}")


def mount_tmpfs(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "zpfarm", str(path)], capture_output=True)
    return done.returncode == 0


def setup(plan: dict, ktap: Ktap) -> dict[str, str]:
    """Apply the runtime variant; its failure is a test result, not a crash."""
    env = dict(os.environ)
    problems = []
    for rel, value in plan.get("sysfs", []):
        try:
            Path("/sys", rel).write_text(value)
        except OSError as e:
            problems.append(f"cannot set /sys/{rel} = {value}: {e}")
    if mount_tmpfs(TMPFS, "size=50%"):
        env["ZPFARM_TMPFS"] = str(TMPFS)
    else:
        problems.append(f"cannot mount tmpfs on {TMPFS}")
    if THP.is_dir() and mount_tmpfs(TMPFS_HUGE, "huge=always,size=50%"):
        env["ZPFARM_TMPFS_HUGE"] = str(TMPFS_HUGE)
    ktap.result(not problems, "runtime", "", (*problems, f"uname: {os.uname().release}"))
    return env


def run_one(test: dict, env: dict[str, str], ktap: Ktap, logs: Path) -> None:
    """Run one program, copying its KTAP into results.ktap as it is printed."""
    name, timeout = test["name"], test["timeout"]
    kmsg(f"begin {name}")
    start = time.monotonic()
    with (logs / f"{name}.stderr").open("wb") as stderr:
        proc = subprocess.Popen(
            test["argv"], cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=stderr, start_new_session=True
        )
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            pending = b""
            while (left := start + timeout - time.monotonic()) > 0:
                if not sel.select(left):
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    ktap.line("    " + line.decode("utf-8", errors="replace"))
        if pending:
            ktap.line("    " + pending.decode("utf-8", errors="replace"))
        try:
            code = proc.wait(timeout=max(0.0, start + timeout - time.monotonic()))
            directive = f"ERROR killed by signal {-code}" if code < 0 else ""
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            code, directive = proc.wait(), f"TIMEOUT after {timeout:.0f} s"
    kmsg(f"end {name}")
    tail = (logs / f"{name}.stderr").read_text(encoding="utf-8", errors="replace").splitlines()[-5:]
    diags = tuple(f"stderr: {line}" for line in tail)
    ktap.result(code == 0, name, directive, (*diags, f"exit status {code} after {time.monotonic() - start:.1f} s"))


def main() -> int:
    plan = json.loads((HERE / "plan.json").read_text())
    logs = HERE / "logs"
    logs.mkdir(exist_ok=True)
    ktap = Ktap(HERE / "results.ktap", len(plan["tests"]) + 1)
    kmsg("runner started")
    try:
        env = setup(plan, ktap)
        for test in plan["tests"]:
            run_one(test, env, ktap, logs)
    finally:
        # Matters when the runner runs on a host (zpfarm host-test), not in a VM.
        for path in (TMPFS_HUGE, TMPFS):
            subprocess.run(["umount", str(path)], capture_output=True)
    (HERE / "dmesg.txt").write_bytes(subprocess.run(["dmesg"], capture_output=True).stdout)
    kmsg("runner done")
    (HERE / "done").write_text("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
