"""A coverage cell's guest programs: gcov's counters zeroed before the tests, copied out after.

Both run farm/guest/files/gcov_collect.py (guest side, standard library only).
The copy lands in the share directory's gcov/, which the host reads with the
build's .gcno files (farm.kernel.gcov).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from farm.model.programs import GUEST_PYTHON, GuestTest

SCRIPT = Path(__file__).parent / "files" / "gcov_collect.py"
DIR = "gcov"  # in the share directory
RESET = "gcov-reset"
COPY = "gcov-copy"
TIMEOUT = 300.0  # a few hundred .gcda files over 9p under TCG


def around(tests: Sequence[GuestTest]) -> list[GuestTest]:
    """tests, with the counters zeroed first (the boot does not count) and copied out last."""
    reset = GuestTest(RESET, (GUEST_PYTHON, SCRIPT.name, "reset"), (SCRIPT,), TIMEOUT)
    copy = GuestTest(COPY, (GUEST_PYTHON, SCRIPT.name, "copy", DIR), (SCRIPT,), TIMEOUT)
    return [reset, *tests, copy]
