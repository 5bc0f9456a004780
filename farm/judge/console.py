"""Find kernel reports (panic, BUG, WARNING, Oops, lockdep, stalls...) in a console log.

Pure: ``scan`` takes the console text and returns one Splat per report
header.  Headers are matched at the start of a message (after the dmesg
timestamp), so "BUG" inside a word or on the kernel command line is not a
report.  A report runs to its end marker, the next report, a zpfarm marker,
or MAX_LINES.  The guest runner writes "zpfarm: begin <program>" and
"zpfarm: end <program>" to /dev/kmsg; a report between them belongs to that
program.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LINES = 60  # excerpt length when no end marker comes first
MAX_LINES_LONG = 120  # KASAN and UBSAN reports, which end with a rule of '='


@dataclass(frozen=True)
class Splat:
    """One kernel report found on the console."""

    kind: str  # "panic", "BUG", "WARNING", "Oops", "KASAN", "lockdep", "RCU stall", ...
    line: int  # 1-based line of the header in the console log
    excerpt: str  # the report's lines as printed, dmesg prefixes kept
    test: str | None  # program running when it fired, from the zpfarm markers


_PREFIX = re.compile(r"^(?:<\d+>)?(?:\[\s*\d+\.\d+\])?(?:\[\s*[CT]\d+\])?\s?")
_MARKER = re.compile(r"^zpfarm: (begin|end) (\S+)\s*$")

_LOCKDEP = (
    "possible circular locking dependency detected",
    "possible recursive locking detected",
    "inconsistent lock state",
    "suspicious RCU usage",
    "possible irq lock inversion dependency detected",
    "bad unlock balance detected!",
    "held lock freed!",
    "lock held when returning to user space!",
    "Nested lock was not taken",
    "bad contention detected!",
    "HARDIRQ-safe -> HARDIRQ-unsafe lock order detected",
    "SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected",
)

# (kind, header regex matched at the start of the message); first match wins.
_HEADERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "lockdep",
        re.compile(r"(?:WARNING|INFO): (?:" + "|".join(map(re.escape, _LOCKDEP)) + ")"),
    ),
    ("KASAN", re.compile(r"BUG: KASAN: ")),
    ("bad page map", re.compile(r"BUG: Bad page map\b")),
    ("bad rss-counter", re.compile(r"BUG: Bad rss-counter state\b")),
    ("soft lockup", re.compile(r"(?:watchdog: )?BUG: soft lockup\b")),
    ("hard lockup", re.compile(r"(?:(?:NMI )?watchdog: )?Watchdog detected hard LOCKUP\b")),
    ("RCU stall", re.compile(r"(?:rcu: )?INFO: \S+ (?:self-detected stall|detected stalls?)\b")),
    ("hung task", re.compile(r"INFO: task \S+ blocked for more than \d+ seconds")),
    ("UBSAN", re.compile(r"UBSAN: \S")),
    ("panic", re.compile(r"Kernel panic - not syncing\b")),
    ("WARNING", re.compile(r"WARNING: (?:CPU: \d+ PID: \d+ at |\S+:\d+ at )")),
    (
        "Oops",
        re.compile(
            r"(?:Oops(?: - [\w ]+)?: |Internal error: Oops|Unable to handle kernel "
            r"|general protection fault\b)"
        ),
    ),
    ("BUG", re.compile(r"(?:BUG: |kernel BUG at )")),
)

_END_TRACE = re.compile(r"^-+\[ end (?:trace|Kernel panic)\b")
_RULE = re.compile(r"^={20,}\s*$")
_TASK_END = re.compile(r"^\s*</TASK>\s*$")
_ENDS_AT_TASK = frozenset({"bad page map", "soft lockup", "hard lockup", "hung task", "RCU stall", "lockdep"})
_ENDS_AT_RULE = frozenset({"KASAN", "UBSAN"})
_ONE_LINE = frozenset({"bad rss-counter"})
_OOPS_FAMILY = frozenset({"BUG", "Oops"})  # an Oops line inside these is the same report


def message(line: str) -> str:
    """The console line without its dmesg timestamp and caller-id prefix."""
    return _PREFIX.sub("", line.rstrip(), count=1)


def _lines(text: str) -> list[str]:
    """Split on newlines only (a serial console ends lines with CR LF)."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if lines and not lines[-1]:
        lines.pop()
    return lines


def _kind(msg: str) -> str | None:
    for kind, header in _HEADERS:
        if header.match(msg):
            return kind
    return None


def _ends(kind: str, msg: str) -> bool:
    """True if this line (inside a report of ``kind``) is its last line."""
    if _END_TRACE.match(msg):
        return True
    if kind in _ENDS_AT_TASK and _TASK_END.match(msg):
        return True
    return kind in _ENDS_AT_RULE and bool(_RULE.match(msg))


def scan(console: str) -> list[Splat]:
    """Every report in the console log, in order."""
    lines = _lines(console)
    messages = [message(line).lstrip() for line in lines]
    splats: list[Splat] = []
    running: str | None = None
    index = 0
    while index < len(lines):
        msg = messages[index]
        marker = _MARKER.match(msg)
        if marker is not None:
            running = marker[2] if marker[1] == "begin" else None
            index += 1
            continue
        kind = _kind(msg)
        if kind is None:
            index += 1
            continue
        end = _report_end(kind, messages, index)
        splats.append(Splat(kind=kind, line=index + 1, excerpt="\n".join(lines[index:end]), test=running))
        index = end
    return splats


def _report_end(kind: str, messages: list[str], start: int) -> int:
    """Index just past the last line of the report whose header is at ``start``."""
    if kind in _ONE_LINE:
        return start + 1
    limit = min(len(messages), start + (MAX_LINES_LONG if kind in _ENDS_AT_RULE else MAX_LINES))
    for index in range(start + 1, limit):
        msg = messages[index]
        if _MARKER.match(msg):
            return index
        other = _kind(msg)
        if other is not None and not (other == "Oops" and kind in _OOPS_FAMILY):
            return index
        if _ends(kind, msg):
            return index + 1
    return limit
