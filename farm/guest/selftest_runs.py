"""Which selftest programs the farm runs, and how: one Run per invocation (run_vmtests.sh is the model).

The selection follows the paths the shmem zero-page series touches; a tree's own new mm
programs named *zeropage* (the series' selftest) join it. Reading a tree decides which
uffd-unit-tests groups exist there and whether a new program prints TAP.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SELFTEST_DIR = "tools/testing/selftests"
LONG = 600.0  # cow alone takes about 2 minutes under TCG
SHORT = 300.0

# Programs built from tools/testing/selftests/<target>/<name>.c. Chosen for the
# paths the shmem zero-page series touches: COW and GUP pins of (shared) zero
# pages, uffd (UFFDIO_ZEROPAGE, minor faults on shmem), khugepaged collapsing
# shmem ranges with zero-page PTEs, MADV_POPULATE_(READ|WRITE), mremap of
# populated ranges, pagemap's zero-pfn reporting, memfd seals.
SELECTED: tuple[str, ...] = (
    "mm/cow",
    "mm/gup_longterm",
    "mm/gup_test",
    "mm/uffd-unit-tests",
    "mm/khugepaged",
    "mm/madv_populate",
    "mm/mremap_test",
    "mm/pagemap_ioctl",
    "memfd/memfd_test",
)
# A new mm selftest of the series: any mm program whose name contains this.
NEW_TEST_MARK = "zeropage"


# uffd-unit-tests -f GROUP runs the tests whose name contains GROUP. 7.x added the
# rwp-* and mmap-changing tests; a group runs only where the tree has a test it
# selects (uffd_tests()). On 7.x, rwp-fork and rwp-fork-pin also match "wp-fork".
UFFD_GROUPS = (
    "register-ioctls",
    "zeropage",
    "move",
    "wp-fork",
    "wp-unpopulated",
    "minor",
    "rwp",
    "sigbus",
    "events",
    "poison",
    "mmap-changing",
)
UFFD = "mm/uffd-unit-tests"


@dataclass(frozen=True)
class Run:
    """One invocation of a selftest program (run_vmtests.sh is the model)."""

    program: str  # "mm/gup_test"
    suffix: str = ""  # appended to the GuestTest name when a program runs twice
    args: tuple[str, ...] = ()
    timeout: float = LONG
    format: str = "ksft"  # ksft_tap.py format: "ksft" for programs that print TAP

    @property
    def name(self) -> str:
        return "selftests-" + self.program.replace("/", "-") + self.suffix


RUNS: tuple[Run, ...] = (
    Run("mm/cow"),
    Run("mm/gup_longterm"),
    # run_vmtests.sh's default gup_test runs: gup-fast and pin-fast benchmarks
    # and a pin_user_pages dump of pages 0, 19 and 4096.
    Run("mm/gup_test", "-gup-fast", ("-u",), SHORT),
    Run("mm/gup_test", "-pin-fast", ("-a",), SHORT),
    Run("mm/gup_test", "-dump", ("-ct", "-F", "0x1", "0", "19", "0x1000"), SHORT),
    # uffd-unit-tests takes 7 s on a host but more than 10 minutes under TCG
    # on a busy host: one run per group of its tests (-f matches a substring
    # of the test name; these groups cover `uffd-unit-tests -l` of 6.12 once
    # each), so a slow or hung group does not hide the others. With -f the
    # two UFFDIO_API checks it runs first are not run. "events" (events and
    # events-wp on five memory types) did not finish in 400 s under TCG.
    *(Run(UFFD, f"-{group}", ("-f", group), 2 * LONG if group == "events" else LONG, "uffd") for group in UFFD_GROUPS),
    # Without arguments khugepaged tests anon memory only (run_vmtests.sh);
    # "all:shmem" adds the shmem collapse cases, where read-faulted holes now
    # hold the zero page. (run_vmtests.sh's "-s 2", anon mTHP, is left out.)
    Run("mm/khugepaged", format="khugepaged"),
    Run("mm/khugepaged", "-shmem", ("all:shmem",), format="khugepaged"),
    Run("mm/madv_populate", timeout=SHORT),
    Run("mm/mremap_test"),
    Run("mm/pagemap_ioctl"),
    Run("memfd/memfd_test", timeout=SHORT, format="memfd"),
)


def new_runs(added: Sequence[str]) -> list[str]:
    """The run names of new mm programs named *zeropage* among files a series adds (known before any build)."""
    prefix = f"{SELFTEST_DIR}/mm/"
    stems = (f.removeprefix(prefix).removesuffix(".c") for f in added if f.startswith(prefix) and f.endswith(".c"))
    return [Run(f"mm/{stem}").name for stem in stems if NEW_TEST_MARK in stem and "/" not in stem]


def programs(tree: Path) -> list[str]:
    """SELECTED plus the tree's new mm programs named *zeropage*."""
    mm = tree / SELFTEST_DIR / "mm"
    found = {p.stem for p in mm.glob(f"*{NEW_TEST_MARK}*.c")}
    makefile = mm / "Makefile"
    if makefile.is_file():
        text = makefile.read_text(errors="replace")
        found |= {n for n in re.findall(r"^TEST_GEN_(?:FILES|PROGS)\s*\+?=\s*(\S+)", text, re.M) if NEW_TEST_MARK in n}
    return [*SELECTED, *(f"mm/{n}" for n in sorted(found) if f"mm/{n}" not in SELECTED)]


def uffd_tests(tree: Path) -> frozenset[str] | None:
    """The test names of the tree's uffd-unit-tests (None: no source to read)."""
    text = _read(tree / SELFTEST_DIR / f"{UFFD}.c")
    start = text.find("uffd_tests[]")
    return frozenset(re.findall(r'\.name\s*=\s*"([^"]+)"', text[start:])) if start >= 0 else None


def runs(tree: Path) -> list[Run]:
    """RUNS (the uffd groups the tree has tests for), plus one plain run of each new program."""
    uffd = uffd_tests(tree)
    out = [r for r in RUNS if r.program != UFFD or uffd is None or any(r.args[-1] in n for n in uffd)]
    extra = [p for p in programs(tree) if p not in {r.program for r in RUNS}]
    for program in extra:
        source = tree / SELFTEST_DIR / f"{program}.c"
        text = source.read_text(errors="replace") if source.is_file() else ""
        prints_tap = any(s in text for s in ("ksft_print_header", "ksft_set_plan", "kselftest_harness.h"))
        out.append(Run(program, format="ksft" if prints_tap or not text else "exit"))
    return out


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""
