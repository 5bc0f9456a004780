"""Per-kernel expectations (testcases/expectations.toml) applied to KTAP leaves.

``load`` reads and validates the file (raising UserError on bad input);
``evaluate`` is pure: it turns a parsed KTAP tree into TestResult verdicts.
Unmatched leaves are expected to pass on both kernels; the first match wins.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from farm.judge.ktap import KtapNode, KtapStatus, leaves, walk
from farm.model.errors import UserError
from farm.model.matrix import KERNELS
from farm.model.results import Status, TestResult

CRASH_MESSAGE = "no result: the test or the kernel crashed"
_KEYS = frozenset({"match", "base", "series", "why"})
_MESSAGE_LINES = 1  # diagnostics quoted in a failure message
_MESSAGE_MAX = 300  # characters


class Outcome(Enum):
    """What a kernel is expected to do with a test."""

    PASS = "pass"
    FAIL = "fail"


@dataclass(frozen=True)
class Expectation:
    """One [[expect]] entry."""

    match: str  # fnmatch pattern over "<program>.<subtest>"
    base: Outcome
    series: Outcome
    why: str

    def on(self, kernel: str) -> Outcome:
        """The expected outcome on "base" or "series"."""
        return self.base if kernel == "base" else self.series


def load(path: Path) -> tuple[Expectation, ...]:
    """Read and validate an expectations file; UserError names what is wrong."""
    where = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UserError(f"{where}: cannot read: {e.strerror or e}") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{where}: {e}") from e
    unknown = sorted(set(data) - {"expect"})
    if unknown:
        raise UserError(f"{where}: unknown top-level key {unknown[0]!r}")
    entries = data.get("expect", [])
    if not isinstance(entries, list):
        raise UserError(f"{where}: 'expect' must be an array of tables ([[expect]])")
    return tuple(_entry(f"{where}: [[expect]] #{number}", entry) for number, entry in enumerate(entries, start=1))


def _entry(where: str, entry: Any) -> Expectation:
    if not isinstance(entry, dict):
        raise UserError(f"{where}: must be a table")
    for key in sorted(entry):
        if key not in _KEYS:
            raise UserError(f"{where}: unknown key {key!r}")
    for key in ("match", "base", "series", "why"):
        if key not in entry:
            raise UserError(f"{where}: missing key {key!r}")
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise UserError(f"{where}: {key!r} must be a non-empty string")
    return Expectation(
        match=entry["match"],
        base=_outcome(where, "base", entry["base"]),
        series=_outcome(where, "series", entry["series"]),
        why=entry["why"].strip(),
    )


def _outcome(where: str, key: str, value: str) -> Outcome:
    try:
        return Outcome(value)
    except ValueError:
        raise UserError(f"{where}: {key!r} must be 'pass' or 'fail', not {value!r}") from None


def find(name: str, expectations: Sequence[Expectation]) -> Expectation | None:
    """The first expectation whose pattern matches the leaf's full name."""
    for expectation in expectations:
        if fnmatchcase(name, expectation.match):
            return expectation
    return None


def evaluate(
    root: KtapNode,
    kernel: str,
    expectations: Sequence[Expectation],
    *,
    program: str | None = None,
) -> list[TestResult]:
    """Verdicts for every leaf, plus a CRASH "<program>.ktap" per parse problem.

    Without ``program`` the top-level tests of ``root`` are the programs (one
    stream for the whole run); with it, ``root`` is that one program's output.
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, not {kernel!r}")
    prefix = f"{program}." if program else ""
    results = [_verdict(prefix + name, node, kernel, find(prefix + name, expectations)) for name, node in leaves(root)]
    results.extend(_parse_errors(root, program))
    return results


def _verdict(name: str, node: KtapNode, kernel: str, expectation: Expectation | None) -> TestResult:
    expected = expectation.on(kernel) if expectation else Outcome.PASS
    why = expectation.why if expectation else ""
    status: Status
    if node.status is KtapStatus.MISSING:
        status, message = Status.CRASH, CRASH_MESSAGE
    elif node.status is KtapStatus.SKIP:
        status, message = Status.SKIP, _skip_reason(node.directive)
    elif node.directive.upper().startswith("XFAIL"):  # kselftest's own known failures (cow, mremap_test)
        status, message = Status.XFAIL, f"the test declares it a known failure: {node.directive}"
    elif node.status is KtapStatus.OK:
        if expected is Outcome.PASS:
            status, message = Status.PASS, ""
        else:
            status = Status.FAIL
            message = f"unexpectedly passed (expected to fail on {kernel}: {why})"
    elif expected is Outcome.FAIL:
        status = Status.XFAIL
        message = "; ".join([f"known to fail on {kernel}: {why}", *_format_metrics(node.metrics)])
    else:
        status, message = Status.FAIL, _failure_message(node)
    return TestResult(
        name=name,
        status=status,
        message=message,
        output="\n".join(node.log),
        metrics=dict(node.metrics),
    )


def _skip_reason(directive: str) -> str:
    words = directive.split(maxsplit=1)
    if words and words[0].upper() == "SKIP":
        return words[1] if len(words) > 1 else "skipped"
    return directive or "skipped"


def _failure_message(node: KtapNode) -> str:
    diagnostics = [
        line.removeprefix("#").strip() for line in node.log if line.startswith("#") and "metric:" not in line
    ]
    parts = [line for line in diagnostics if line][-_MESSAGE_LINES:]
    if node.directive:
        parts.append(f"# {node.directive}")
    message = "; ".join(parts) or "not ok"
    if len(message) > _MESSAGE_MAX:
        message = message[: _MESSAGE_MAX - 3] + "..."
    return message


def _format_metrics(metrics: Mapping[str, float]) -> list[str]:
    return [f"{key}={value:g}" if not value.is_integer() else f"{key}={int(value)}" for key, value in metrics.items()]


def _parse_errors(root: KtapNode, program: str | None) -> list[TestResult]:
    """One CRASH "<program>.ktap" result per program whose output had problems."""
    found: dict[str, list[str]] = {}
    if root.errors:
        found.setdefault(f"{program}.ktap" if program else "ktap", []).extend(root.errors)
    for child in root.children:
        name = f"{program}.ktap" if program else f"{child.name}.ktap"
        for path, node in walk(child, child.name):
            found.setdefault(name, []).extend(f"{path}: {error}" for error in node.errors)
    return [
        TestResult(name=name, status=Status.CRASH, message=errors[0], output="\n".join(errors))
        for name, errors in found.items()
        if errors
    ]
