"""The guest tests on a real machine's kernel, no VM: this one, or another over SSH.

The same runner and share directory a guest gets, staged on the machine
(locally: where it is; over SSH: a temporary copy), results fetched back and
judged with the same expectations. The C tests are built for the machine's
arch (`uname -m`), cross-compiled when it is not this one's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from farm.guest import runner, testcases
from farm.host import proc
from farm.host.cache import Cache
from farm.host.remote import SshHost, Target
from farm.judge import expect, known, verdict
from farm.model import arches
from farm.model.errors import InfraError
from farm.model.matrix import Kernel, Matrix, Runtime
from farm.model.results import Booted, TestResult
from farm.vm import boot


def run(
    matrix: Matrix,
    cache: Cache,
    out: Path,
    kernel: Kernel,
    only: Sequence[str],
    ssh: Target | None = None,
    *,
    accept_new_host_key: bool = False,
) -> list[TestResult]:
    """Run the guest tests on this machine's kernel (or, over SSH, another's), judged as `kernel`."""
    with SshHost(ssh, accept_new=accept_new_host_key) if ssh else proc.LocalHost() as host:
        machine = host.run(["uname", "-m"])
        if not machine.ok:
            raise InfraError(f"uname -m failed: {machine.tail(1)}")
        arch = arches.for_machine(machine.output.strip())
        built = cache.testcases(arch.name)
        guest_runner = runner.build(arch, cache.runner(arch.name), out / "runner-build.log")
        testcases.build(matrix.testcases_dir, arch, built, out / "testcases.log")
        tests = testcases.guest_tests(matrix.testcases_dir, built, matrix.guest.test_timeout, only)
        share = out / "share"
        boot.prepare_share(share, guest_runner, Runtime("host"), tests, vm=False)
        there = host.stage(share)
        timeout = sum(t.timeout for t in tests) + 60
        done = host.run([str(there / runner.NAME)], log=out / "runner.log", timeout=timeout)
        if not host.get(there / "results.ktap", share / "results.ktap"):
            raise InfraError(f"the runner wrote no results (see {out / 'runner.log'})")
        finished = host.get(there / "done", share / "done")
        host.get(there / "dmesg.txt", share / "dmesg.txt")
    dmesg = share / "dmesg.txt"
    text = (share / "results.ktap").read_text(encoding="utf-8", errors="replace")
    booted = Booted(done.returncode, done.elapsed, done.timed_out, finished, text, dmesg, "host")
    kernel_log = dmesg.read_text(encoding="utf-8", errors="replace") if dmesg.is_file() else ""
    # The host is no cell of the matrix: only the known issues scoped to nowhere in particular apply.
    expectations = [e for e in expect.load(matrix.testcases_dir / "expectations.toml") if e.scope == known.ANYWHERE]
    return verdict.judge(booted, kernel_log, kernel, [t.name for t in tests], expectations)
