#!/usr/bin/env python3
"""Run a kernel selftest that does not print TAP and print TAP 13 for it.

Guest side, standard library only (the arm64 guest has python3-minimal).
Usage: ksft_tap.py [--timeout SECONDS] FORMAT PROGRAM [ARGS...], FORMAT one of:

  uffd        mm/uffd-unit-tests: "Testing NAME... done|skipped [reason: R]|failed [reason: R]"
  khugepaged  mm/khugepaged: "Run test: NAME" blocks whose checks end in a
              green OK, a red Fail/Timeout or a yellow Skip
  memfd       memfd/memfd_test: "memfd: NAME" starts a test; abort() fails
              the one running; "memfd: DONE" ends the run
  exit        anything else: one result from the exit status
  ksft        a kselftest that prints TAP itself: passed through, with the
              "# [RUN] NAME" line before a result (cow, gup_longterm) put
              into that result's name

Every line the program prints (stdout and stderr, through a pty so a static
binary line-buffers and an abort() loses nothing) becomes a "# " diagnostic.
In the first four, a test still running when the program exits on a signal or with a failure
status is "not ok"; exit status 4 (KSFT_SKIP) with no tests is a skip.
With --timeout (set below the runner's own) the program is killed at the
timeout and the test it was running is "not ok # TIMEOUT", by name.
Exit status: 0 when nothing failed, else 1.
"""

from __future__ import annotations

import errno
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable

KSFT_SKIP = 4
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_UFFD_START = re.compile(r"^Testing (?P<name>.+?)\.\.\. ?(?P<rest>.*)$")
_UFFD_VERDICT = re.compile(
    r"(?:^|\s)(?:(?P<done>done)|skipped \[reason: (?P<skip>.*)\]|failed \[reason: (?P<fail>.*)\])$"
)
_KHUGEPAGED_START = re.compile(r"^Run test: (?P<name>.+)$")
_KHUGEPAGED_SETTINGS = re.compile(r"^(?P<name>Save|Restore) THP and khugepaged settings")
_MEMFD_START = re.compile(r"^(?P<name>memfd(?:-hugetlb)?: \S.*?)\s*$")  # "memfd:\tApply ..." is a step
# khugepaged's success()/fail()/skip() colour their word: green, red, yellow.
_GREEN, _RED, _YELLOW = "\x1b[32m", "\x1b[31m", "\x1b[33m"


class Tap:
    """TAP 13 on stdout, the plan at the end (tests are found as they run)."""

    def __init__(self) -> None:
        self.count = 0
        self.failed = 0
        self.seen: dict[str, int] = {}
        print("TAP version 13", flush=True)

    def diag(self, text: str) -> None:
        print(f"# {text}" if text else "#", flush=True)

    def result(self, name: str, verdict: str, reason: str = "") -> None:
        """verdict is "ok", "not ok" or "skip"."""
        self.count += 1
        name = name.replace("#", "").strip() or f"test {self.count}"
        self.seen[name] = self.seen.get(name, 0) + 1
        if self.seen[name] > 1:  # memfd_test runs "sysctl 0" three times
            name = f"{name} [{self.seen[name]}]"
        if verdict == "skip":
            print(f"ok {self.count} {name} # SKIP {reason}".rstrip(), flush=True)
            return
        if verdict == "not ok":
            self.failed += 1
            if reason:
                self.diag(reason)
        print(f"{verdict} {self.count} {name}", flush=True)

    def finish(self) -> int:
        print(f"1..{self.count}", flush=True)
        return 1 if self.failed else 0


class Format:
    """How one program's output maps to tests: begin() sees a line before it
    is echoed as a diagnostic (to close the previous test), line() after."""

    def __init__(self, tap: Tap) -> None:
        self.tap = tap
        self.current: str | None = None

    def begin(self, text: str) -> None:
        pass

    def line(self, text: str) -> None:
        pass

    def end(self, code: int, status: str) -> None:
        """The program exited with code (negative: signal); status says how."""
        if self.current is not None:
            self.tap.result(self.current, "not ok", f"no verdict: {status}")
            self.current = None


class Uffd(Format):
    def begin(self, text: str) -> None:
        if _UFFD_START.match(text):
            self.end_current("no verdict before the next test started")

    def line(self, text: str) -> None:
        start = _UFFD_START.match(text)
        if start:
            self.current, text = start["name"], start["rest"]
        verdict = _UFFD_VERDICT.search(text)
        if self.current is None or not verdict:
            return
        if verdict["done"]:
            self.tap.result(self.current, "ok")
        elif verdict["skip"] is not None:
            self.tap.result(self.current, "skip", verdict["skip"])
        else:
            self.tap.result(self.current, "not ok", verdict["fail"])
        self.current = None

    def end_current(self, why: str) -> None:
        if self.current is not None:
            self.tap.result(self.current, "not ok", why)
            self.current = None


class Khugepaged(Format):
    def __init__(self, tap: Tap) -> None:
        super().__init__(tap)
        self.marks: list[tuple[str, str]] = []  # (colour, word) of the current test
        self.fails = 0  # khugepaged exits with its count of fail() calls

    def begin(self, raw: str) -> None:
        text = _ANSI.sub("", raw).strip()
        start = _KHUGEPAGED_START.match(text) or _KHUGEPAGED_SETTINGS.match(text)
        if start:
            self.close()
            self.current = start["name"] if "Run test" in text else f"{start['name'].lower()} settings"

    def line(self, raw: str) -> None:
        for colour in (_GREEN, _RED, _YELLOW):
            for word in re.findall(re.escape(colour) + r"(.*?)\x1b\[0m", raw):
                self.marks.append((colour, word))
                self.fails += colour == _RED

    def close(self, trailer: str = "") -> None:
        if self.current is None:
            return
        fails = [w for c, w in self.marks if c == _RED]
        skips = [w for c, w in self.marks if c == _YELLOW]
        if fails or trailer:
            self.tap.result(self.current, "not ok", "; ".join(fails + ([trailer] if trailer else [])))
        elif skips:
            self.tap.result(self.current, "skip", skips[0])
        elif self.marks:
            self.tap.result(self.current, "ok")
        else:
            self.tap.result(self.current, "not ok", "no verdict printed")
        self.current, self.marks = None, []

    def end(self, code: int, status: str) -> None:
        # A normal end exits with the number of failed checks; anything else
        # (a signal, exit(EXIT_FAILURE) from a helper) stopped the current test.
        normal = code >= 0 and code == self.fails & 0xFF
        self.close("" if normal else f"stopped: {status}")


class Memfd(Format):
    def begin(self, text: str) -> None:
        start = _MEMFD_START.match(text)
        if not start:
            return
        if self.current is not None:
            self.tap.result(self.current, "ok")
        name = start["name"]
        self.current = None if name.endswith(": DONE") else name

    def end(self, code: int, status: str) -> None:
        if self.current is not None and code == 0:
            self.tap.result(self.current, "ok")
            self.current = None
        super().end(code, status)


class Ksft:
    """Pass-through; a result after a "# [RUN] NAME" line is named NAME, and
    a nameless "ok N # XFAIL DESCRIPTION" is named DESCRIPTION.

    A test's name must not depend on its outcome (history, compare and the
    known issues follow a test by name): cow prints "ok 2 # SKIP ..." but
    "ok 1 No leak from parent into child" (6.12) or the run's name again
    (7.3), so the result's own words go on a diagnostic line before it."""

    _RUN = re.compile(r"^# \[RUN\] (?P<name>.+?)\s*$")
    _RESULT = re.compile(r"^(?P<status>ok|not ok) (?P<num>\d+)(?: (?P<name>[^#]*?))?(?P<rest>\s*(?:#.*)?)$")
    _TAP = re.compile(r"^(?:ok|not ok|#|TAP version|1\.\.|Bail out!)")
    _XFAIL = re.compile(r"^\s*#\s*XFAIL\s+(?P<what>\S.*)$")
    # ksft_finished() ends a run with failures so: every result is already
    # there, it is the exit status in words, not an abort.
    _FAILED_SUMMARY = re.compile(r"^Bail out! \d+ out of \d+ tests failed$")

    def __init__(self) -> None:
        self.name = ""
        self.last = 0  # number of the last result line

    def line(self, text: str) -> None:
        if (result := self._RESULT.match(text)) is not None:
            self.last = int(result["num"])
        if (run := self._RUN.match(text)) is not None:
            self.name = run["name"].replace("#", "")
        elif result is not None and self.name:
            if result["name"] and result["name"] != self.name:
                print(f"# {result['name']}", flush=True)
            rest = result["rest"].strip()
            text = f"{result['status']} {result['num']} {self.name}" + (f" {rest}" if rest else "")
            self.name = ""
        elif result is not None and not result["name"] and (xfail := self._XFAIL.match(result["rest"])):
            # ksft_test_result_xfail() (mremap_test) puts the test's description in the directive.
            text = f"{result['status']} {result['num']} {xfail['what'].replace('#', '').strip()}{result['rest']}"
        elif not self._TAP.match(text) or self._FAILED_SUMMARY.match(text):
            text = f"# {text}"
        print(text, flush=True)


def passthrough(argv: list[str], timeout: float | None) -> int:
    ksft = Ksft()
    try:
        code, timed_out = run(argv, ksft.line, timeout)
    except (FileNotFoundError, PermissionError) as e:
        print(f"TAP version 13\n1..1\nnot ok 1 {os.path.basename(argv[0])} # cannot run: {e}", flush=True)
        return 1
    status = describe(code, timed_out, timeout)
    if timed_out:
        # The results the plan promised and never got become "missing" (an
        # error); the test that was running is named.
        if ksft.name:
            print(f"not ok {ksft.last + 1} {ksft.name} # TIMEOUT {status}", flush=True)
        print(f"Bail out! {os.path.basename(argv[0])} {status}", flush=True)
    print(f"# {os.path.basename(argv[0])}: {status}", flush=True)
    return 0 if code in (0, KSFT_SKIP) else 1


FORMATS = {"uffd": Uffd, "khugepaged": Khugepaged, "memfd": Memfd, "exit": Format}


def describe(code: int, timed_out: bool = False, timeout: float | None = None) -> str:
    if timed_out:
        return f"timed out after {timeout:.0f} s (killed)"
    return f"killed by signal {-code}" if code < 0 else f"exit status {code}"


def workdir() -> str | None:
    """The runner's tmpfs: files a selftest creates in its cwd (gup_longterm's
    "local tmpfile") must be on a local filesystem, and the share directory is
    9p or virtiofs, where ftruncate() fails. None (stay) without it."""
    path = os.environ.get("ZPFARM_TMPFS", "")
    return path if path and os.path.isdir(path) else None


def _shown(raw: bytes) -> str:
    """What a terminal would show of a line: progress bars redraw after a CR."""
    return raw.decode("utf-8", errors="replace").rstrip("\r").rsplit("\r", 1)[-1]


def run(argv: list[str], on_line: Callable[[str], None], timeout: float | None = None) -> tuple[int, bool]:
    """Run argv with stdout and stderr on a pty; feed each line to on_line.

    Returns (exit code, timed out): at the timeout the program's process
    group is killed, so this script can still say which test hung.

    Without a pty (no devpts in the guest) a pipe: the program's stdout is
    then block-buffered and a crash can lose its last lines.
    """
    try:
        master, slave = os.openpty()
    except OSError as e:
        on_line(f"ksft_tap.py: no pty ({e}): output may be lost if the program crashes")
        master, slave = os.pipe()
    try:
        proc = subprocess.Popen(
            [os.path.abspath(argv[0]) if os.sep in argv[0] else argv[0], *argv[1:]],
            cwd=workdir(),
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
    finally:
        os.close(slave)
    pending = b""
    deadline = time.monotonic() + timeout if timeout else None
    timed_out = False
    try:
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and (left <= 0 or not select.select([master], [], [], left)[0]):
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                break
            try:
                chunk = os.read(master, 65536)
            except OSError as e:  # EIO: every writer closed the pty
                if e.errno != errno.EIO:
                    raise
                chunk = b""
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                on_line(_shown(line))
        if pending:
            on_line(_shown(pending))
    finally:
        os.close(master)
    return proc.wait(), timed_out


def main(args: list[str]) -> int:
    timeout = None
    if args[:1] == ["--timeout"] and len(args) > 1:
        timeout, args = float(args[1]), args[2:]
    if len(args) < 2 or args[0] not in (*FORMATS, "ksft"):
        usage = f"usage: ksft_tap.py [--timeout SECONDS] {{ksft|{'|'.join(FORMATS)}}} PROGRAM [ARGS...]"
        print(usage, file=sys.stderr)
        return 2
    if args[0] == "ksft":
        return passthrough(args[1:], timeout)
    tap = Tap()
    parser = FORMATS[args[0]](tap)
    last: list[str] = []

    def on_line(text: str) -> None:
        parser.begin(text)
        tap.diag(_ANSI.sub("", text))
        if text.strip():
            last[:] = [_ANSI.sub("", text).strip()]
        parser.line(text)

    try:
        code, timed_out = run(args[1:], on_line, timeout)
    except (FileNotFoundError, PermissionError) as e:
        tap.result(os.path.basename(args[1]), "not ok", f"cannot run {args[1]}: {e}")
        return tap.finish()
    status = describe(code, timed_out, timeout)
    parser.end(code, status)
    program = os.path.basename(args[1])
    if code == KSFT_SKIP and tap.count == 0:
        tap.result(program, "skip", last[0] if last else "KSFT_SKIP")
    elif code not in (0, KSFT_SKIP) and tap.failed == 0:
        tap.result(program, "not ok", f"{status} with no failed test: {last[0] if last else 'no output'}")
    elif tap.count == 0:
        tap.result(program, "ok")
    tap.diag(f"{program}: {status}")
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
