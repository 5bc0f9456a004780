"""The guest runner (farm/guest/runner.c): built per arch, and the plan it reads.

A static binary like the testcases, cached per arch under the source's hash,
so a changed runner is rebuilt and an unchanged one never is.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from farm.host import proc
from farm.model.arches import Arch
from farm.model.errors import InfraError
from farm.model.matrix import Runtime
from farm.model.programs import GuestTest

SOURCE = Path(__file__).parent / "files" / "runner.c"
NAME = "runner"  # in the share directory
CFLAGS = ("-static", "-O2", "-Wall", "-Wextra", "-Werror")


def build(arch: Arch, out: Path, log: Path) -> Path:
    """The runner compiled for arch (cached in out).

    InfraError if it does not build: it is the farm's own code, so the
    machine's toolchain is what failed (`zpfarm doctor`).
    """
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join((arch.cc, *CFLAGS)).encode()).hexdigest()[:16]
    binary = out / f"{NAME}-{key}"
    if binary.is_file():
        return binary
    out.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(f".{os.getpid()}")
    done = proc.run([arch.cc, *CFLAGS, "-o", str(partial), str(SOURCE)], log=log)
    if not done.ok:
        raise InfraError(f"the guest runner does not build for {arch.name}: {done.tail(3)} (see {log})")
    partial.rename(binary)
    return binary


def _record(*fields: str) -> str:
    """One plan line: tab-separated fields, with backslash, tab and newline escaped."""
    table = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n"})
    return "\t".join(f.translate(table) for f in fields) + "\n"


def plan(runtime: Runtime, tests: Sequence[GuestTest], vm: bool) -> str:
    """plan.txt, as runner.c reads it (its header comment has the format)."""
    records: Iterable[str] = (
        _record("vm", "1" if vm else "0"),
        *(_record("sysfs", path, value) for path, value in runtime.sysfs),
        *(_record("test", t.name, f"{t.timeout:g}", *t.argv) for t in tests),
    )
    return "".join(records)
