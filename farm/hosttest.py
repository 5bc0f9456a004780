"""The guest tests on a real machine's kernel, no VM: this one, or another over SSH.

The same runner and share directory a guest gets, staged on the machine
(locally: where it is; over SSH: a temporary copy), results fetched back and
judged with the same expectations. The C tests are built for the machine's
arch (`uname -m`), cross-compiled when it is not this one's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from farm.guest import boot, runner, testcases
from farm.host import proc
from farm.host.cache import Cache
from farm.host.remote import SshHost, Target
from farm.judge import expect, ktap
from farm.model import arches
from farm.model.errors import InfraError
from farm.model.matrix import Runtime
from farm.model.results import TestResult


def run(
    testcases_dir: Path, cache: Cache, out: Path, kernel: str, only: Sequence[str], ssh: Target | None = None
) -> list[TestResult]:
    """Run the guest tests on this machine's kernel (or, over SSH, another's), judged as `kernel`."""
    with SshHost(ssh) if ssh else proc.LocalHost() as host:
        machine = host.run(["uname", "-m"])
        if not machine.ok:
            raise InfraError(f"uname -m failed: {machine.tail(1)}")
        arch = arches.for_machine(machine.output.strip())
        built = cache.testcases(arch.name)
        guest_runner = runner.build(arch, cache.runner(arch.name), out / "runner-build.log")
        testcases.build(testcases_dir, arch, built, out / "testcases.log")
        tests = testcases.guest_tests(testcases_dir, built, 600.0, only)
        share = out / "share"
        boot.prepare_share(share, guest_runner, Runtime("host"), tests, vm=False)
        there = host.stage(share)
        timeout = sum(t.timeout for t in tests) + 60
        host.run([str(there / runner.NAME)], log=out / "runner.log", timeout=timeout)
        if not host.get(there / "results.ktap", share / "results.ktap"):
            raise InfraError(f"the runner wrote no results (see {out / 'runner.log'})")
    text = (share / "results.ktap").read_text(encoding="utf-8", errors="replace")
    return expect.evaluate(ktap.parse(text), kernel, expect.load(testcases_dir / "expectations.toml"))
