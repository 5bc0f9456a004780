#!/usr/bin/env python3
"""zpfarm's guest runner: runs inside the VM, standard library only.

It reads its plan (plan.py, written by the host) from its own directory (the
host's shared read-write directory), applies the runtime variant's sysfs settings, mounts the tmpfs
instances the tests use, then runs each test program with a timeout and
appends its KTAP output, nested, to results.ktap as it goes: a crash or a
hung kernel leaves every earlier result on the host. Around each program it
writes "zpfarm: begin/end <name>" to /dev/kmsg so the host can tell which
test was running when the kernel complained.

Start-up is kept cheap because under TCG every file Python opens is a 9p
round trip: the host starts it with `python3 -S` (site's imports alone cost
about a second in the guest) and it imports no more than os, select and
time: subprocess and pathlib cost another 0.7 s, json 0.4 s (its `re`), so
the plan is a Python literal (measured in a guest). Needs Python 3.9 or later.
"""

from __future__ import annotations

import os
import select
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TMPFS = "/run/zpfarm/tmpfs"
TMPFS_HUGE = "/run/zpfarm/tmpfs-huge"
THP = "/sys/kernel/mm/transparent_hugepage"


def kmsg(text: str) -> None:
    try:
        with open("/dev/kmsg", "w") as f:
            f.write(f"zpfarm: {text}\n")
    except OSError:
        pass


class Ktap:
    """results.ktap, written line by line.

    No fsync: the share is 9p without a cache, so each write reaches the host
    before it returns, and a guest that dies cannot lose it. (An fsync per
    line cost 1.7 ms more per line in a TCG guest, measured: ~5 s a suite.)
    """

    def __init__(self, path: str, count: int) -> None:
        self.f = open(path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 (open for the whole run)
        self.n = 0
        self.line(f"KTAP version 1\n1..{count}")

    def line(self, text: str) -> None:
        self.f.write(text + "\n")

    def result(self, ok: bool, name: str, directive: str = "", diagnostics: tuple[str, ...] = ()) -> None:
        self.n += 1
        for d in diagnostics:
            self.line(f"# {d}")
        suffix = f" # {directive}" if directive else ""
        self.line(f"{'ok' if ok else 'not ok'} {self.n} {name}{suffix}")


def spawn(argv: list[str], env: dict[str, str], stdout: int, stderr: int, session: bool = False) -> int:
    """Start a program with its stdout and stderr on these descriptors; its pid."""
    dup = [(os.POSIX_SPAWN_DUP2, stdout, 1), (os.POSIX_SPAWN_DUP2, stderr, 2)]
    return os.posix_spawnp(argv[0], argv, env, file_actions=dup, setsid=session)


def run_tool(argv: list[str], stdout_path: str = os.devnull) -> int:
    """Run a system tool to its end, stderr discarded; its exit code (127: cannot start)."""
    with open(stdout_path, "wb") as out, open(os.devnull, "wb") as null:
        try:
            pid = spawn(argv, dict(os.environ), out.fileno(), null.fileno())
        except OSError:
            return 127
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def mount_tmpfs(path: str, options: str) -> bool:
    os.makedirs(path, exist_ok=True)
    return run_tool(["mount", "-t", "tmpfs", "-o", options, "zpfarm", path]) == 0


def setup(plan: dict, ktap: Ktap) -> dict[str, str]:
    """Apply the runtime variant; its failure is a test result, not a crash."""
    env = dict(os.environ)
    problems = []
    for rel, value in plan.get("sysfs", []):
        try:
            with open(os.path.join("/sys", rel), "w") as f:
                f.write(value)
        except OSError as e:
            problems.append(f"cannot set /sys/{rel} = {value}: {e}")
    if mount_tmpfs(TMPFS, "size=50%"):
        env["ZPFARM_TMPFS"] = TMPFS
    else:
        problems.append(f"cannot mount tmpfs on {TMPFS}")
    if os.path.isdir(THP) and mount_tmpfs(TMPFS_HUGE, "huge=always,size=50%"):
        env["ZPFARM_TMPFS_HUGE"] = TMPFS_HUGE
    ktap.result(not problems, "runtime", "", (*problems, f"uname: {os.uname().release}"))
    return env


def wait_until(pid: int, deadline: float) -> int | None:
    """The wait status of pid, or None if it is still running at the deadline."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


def copy_output(fd: int, deadline: float, ktap: Ktap) -> None:
    """Copy a program's stdout, indented one level, until it closes it or the deadline."""
    pending = b""
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([fd], [], [], left)[0]:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            ktap.line("    " + line.decode("utf-8", errors="replace"))
    if pending:
        ktap.line("    " + pending.decode("utf-8", errors="replace"))


def run_one(test: dict, env: dict[str, str], ktap: Ktap, logs: str) -> None:
    """Run one program, copying its KTAP into results.ktap as it is printed."""
    name, timeout = test["name"], test["timeout"]
    stderr_path = os.path.join(logs, f"{name}.stderr")
    kmsg(f"begin {name}")
    start = time.monotonic()
    read_end, write_end = os.pipe()
    try:
        with open(stderr_path, "wb") as stderr:
            pid = spawn(test["argv"], env, write_end, stderr.fileno(), session=True)
    except OSError as e:
        os.close(read_end)
        kmsg(f"end {name}")
        ktap.result(False, name, "ERROR cannot start", (f"{test['argv'][0]}: {e}",))
        return
    finally:
        os.close(write_end)
    copy_output(read_end, start + timeout, ktap)
    os.close(read_end)
    status = wait_until(pid, start + timeout)
    if status is None:
        os.killpg(pid, 9)
        os.waitpid(pid, 0)
        code, directive = -9, f"TIMEOUT after {timeout:.0f} s"
    else:
        code = os.waitstatus_to_exitcode(status)
        directive = f"ERROR killed by signal {-code}" if code < 0 else ""
    kmsg(f"end {name}")
    with open(stderr_path, "rb") as f:
        tail = f.read().decode("utf-8", errors="replace").splitlines()[-5:]
    diags = tuple(f"stderr: {line}" for line in tail)
    ktap.result(code == 0, name, directive, (*diags, f"exit status {code} after {time.monotonic() - start:.1f} s"))


def main() -> int:
    os.chdir(HERE)  # test programs are named relative to the share directory
    sys.dont_write_bytecode = True  # leave no __pycache__ in the share
    from plan import PLAN as plan  # plan.py sits beside this script (sys.path[0])

    os.makedirs("logs", exist_ok=True)
    ktap = Ktap("results.ktap", len(plan["tests"]) + 1)
    kmsg("runner started")
    try:
        env = setup(plan, ktap)
        for test in plan["tests"]:
            run_one(test, env, ktap, "logs")
    finally:
        if not plan["vm"]:  # on a host (zpfarm host-test), which outlives the runner
            for path in (TMPFS_HUGE, TMPFS):
                run_tool(["umount", path])
    if not plan["vm"]:  # a VM's console already has the kernel log
        run_tool(["dmesg"], "dmesg.txt")
    kmsg("runner done")
    with open("done", "w") as f:
        f.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
