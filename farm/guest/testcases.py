"""The guest tests in testcases/: find them, build the C ones for an arch.

Each *.c is one static program (built by testcases/Makefile); each *.py
(except the zpktap.py helper module) is one script run by the guest's
python3. Every program prints KTAP; its file stem is its test name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from farm.host import proc
from farm.model.arches import Arch
from farm.model.errors import UserError
from farm.model.programs import GUEST_PYTHON, GuestTest

PY_HELPER = "zpktap.py"


def names(testcases: Path) -> list[str]:
    """Test program names, C first then Python, each sorted."""
    c = sorted(p.stem for p in testcases.glob("*.c"))
    py = sorted(p.stem for p in testcases.glob("*.py") if p.name != PY_HELPER)
    return c + py


def build(testcases: Path, arch: Arch, out: Path, log: Path) -> None:
    """Compile the C programs for arch into out; UserError if they don't build."""
    if not any(testcases.glob("*.c")):
        return  # Python only: nothing to compile
    done = proc.run(["make", "-C", str(testcases), f"OUT={out}", f"CC={arch.cc}"], log=log)
    if not done.ok:
        raise UserError(f"testcases do not build for {arch.name}: {done.tail(3)} (see {log})")


def guest_tests(testcases: Path, built: Path, timeout: float, only: Sequence[str] = ()) -> list[GuestTest]:
    """What the guest runner should run, optionally limited to some names."""
    unknown = [n for n in only if n not in names(testcases)]
    if unknown:
        raise UserError(f"--test {unknown[0]!r}: no such test (tests: {', '.join(names(testcases))})")
    tests = []
    helper = testcases / PY_HELPER
    for name in names(testcases):
        if only and name not in only:
            continue
        script = testcases / f"{name}.py"
        if script.is_file():
            files = (script, helper) if helper.is_file() else (script,)
            tests.append(GuestTest(name, (GUEST_PYTHON, script.name), files, timeout))
        else:
            tests.append(GuestTest(name, (f"./{name}",), (built / name,), timeout))
    return tests
