"""Values shared by the farm's stages: statuses and per-test results.

Everything here is an immutable value; stages return these, they never raise
for a test that failed or a guest that crashed (failures are data).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum


class Status(Enum):
    """Verdict of one test case (or stage) after expectations were applied."""

    PASS = "pass"
    FAIL = "fail"  # an assertion failed, or a known failure unexpectedly passed
    XFAIL = "xfail"  # failed where expectations.toml says it is known to fail
    SKIP = "skip"  # could not run here (no THP, no io_uring, ...)
    CRASH = "crash"  # test or kernel crashed, timed out, or left no result
    INFRA = "infra"  # build or boot failed: the test never ran

    @property
    def is_error(self) -> bool:
        """JUnit <error>: something broke rather than an assertion failing."""
        return self in (Status.CRASH, Status.INFRA)


@dataclass(frozen=True)
class TestResult:
    """One JUnit <testcase>: a test program's subtest in one mode."""

    __test__ = False  # not a pytest class, despite the name

    name: str  # "<program>.<subtest>", e.g. "coherence.read_then_remote_write[memfd,shared]"
    status: Status
    message: str = ""  # one line: why it failed, was skipped or xfailed
    output: str = ""  # diagnostics the test printed, console excerpts
    metrics: Mapping[str, float] = field(default_factory=dict)
    elapsed: float | None = None
