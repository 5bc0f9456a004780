"""Per-kernel expectations (testcases/expectations.toml) applied to KTAP leaves.

``load`` reads and validates the file (raising UserError on bad input);
``evaluate`` is pure: it turns a parsed KTAP tree into TestResult verdicts.
Unmatched leaves are expected to pass on both kernels; the first match wins.

An entry may be scoped (cells, arches, runtimes, bases, accel: judge.known)
and carry reason, url and expires; ``scoped`` keeps the entries that apply
to one boot. An ``intermittent = true`` entry is a known flake (SQUAD's
intermittent KnownIssue): a failure, or a result the program never printed,
is an xfail naming the issue, and a pass is a plain pass (never a fix).
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from farm.judge import known
from farm.judge.ktap import KtapNode, KtapStatus, leaves, walk
from farm.model.errors import UserError
from farm.model.matrix import KERNELS
from farm.model.results import Status, TestResult

CRASH_MESSAGE = "no result: the test or the kernel crashed"
_KEYS = frozenset({"match", "base", "series", "why", "intermittent", *known.LINK_KEYS, *known.SCOPE_KEYS})
_TOP_KEYS = frozenset({"expect", "console_ignore"})
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
    why: str  # "why" or "reason" in the file
    intermittent: bool = False  # may fail or pass on either kernel: a failure is an xfail, a pass no fix
    url: str = ""  # where the issue is tracked
    expires: date | None = None
    scope: known.Scope = known.ANYWHERE

    def on(self, kernel: str) -> Outcome:
        """The expected outcome on "base" or "series"."""
        return self.base if kernel == "base" else self.series

    def cite(self) -> str:
        return self.why + (f" ({self.url})" if self.url else "")


@dataclass(frozen=True)
class Known:
    """Everything expectations.toml says: the [[expect]] entries and the [[console_ignore]] ones."""

    expect: tuple[Expectation, ...] = ()
    console_ignore: tuple[known.ConsoleIgnore, ...] = ()

    def at(self, where: known.Where) -> Known:
        """The entries whose scope covers this boot."""
        return Known(
            tuple(e for e in self.expect if e.scope.applies(where)),
            tuple(i for i in self.console_ignore if i.scope.applies(where)),
        )


def load(path: Path, today: date | None = None) -> tuple[Expectation, ...]:
    """Read and validate an expectations file's [[expect]] entries; UserError names what is wrong."""
    return load_known(path, today).expect


def load_known(path: Path, today: date | None = None) -> Known:
    """Read and validate the whole file; an entry past its expires date (by today, UTC) is bad input."""
    where = path.name
    today = today or datetime.now(UTC).date()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UserError(f"{where}: cannot read: {e.strerror or e}") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{where}: {e}") from e
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise UserError(f"{where}: unknown top-level key {unknown[0]!r}")
    found = tuple(
        _entry(at, entry, today) for at, entry in known.tables(where, "expect", data.get("expect", []), _KEYS)
    )
    return Known(found, known.console_ignores(where, data.get("console_ignore", []), today))


def _entry(where: str, entry: dict[str, Any], today: date) -> Expectation:
    if isinstance(entry.get("match"), str):
        where = f"{where} (match {entry['match']!r})"
    intermittent = entry.get("intermittent", False)
    if not isinstance(intermittent, bool):
        raise UserError(f"{where}: 'intermittent' must be true or false")
    if "why" in entry and "reason" in entry:
        raise UserError(f"{where}: give 'reason' or 'why', not both")
    entry = {"why": entry.get("reason"), **entry} if "reason" in entry else entry
    # An intermittent entry may pass or fail on either kernel: base and series default to pass.
    required = ("match", "why") if intermittent else ("match", "base", "series", "why")
    for key in required:
        if key not in entry:
            raise UserError(f"{where}: missing key {key!r}")
    for key in ("match", "base", "series", "why"):
        if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()):
            raise UserError(f"{where}: {key!r} must be a non-empty string")
    return Expectation(
        match=entry["match"],
        base=_outcome(where, "base", entry.get("base", "pass")),
        series=_outcome(where, "series", entry.get("series", "pass")),
        why=entry["why"].strip(),
        intermittent=intermittent,
        url=known.url(where, entry),
        expires=known.expires(where, entry, today),
        scope=known.scope(where, entry),
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
    results.extend(_intermittent(e, find(e.name, expectations)) for e in _parse_errors(root, program))
    return results


def _intermittent(case: TestResult, expectation: Expectation | None) -> TestResult:
    """A failed or crashed case an intermittent known issue covers: an xfail citing it."""
    if expectation is None or not expectation.intermittent or case.status not in (Status.FAIL, Status.CRASH):
        return case
    why = f"known intermittent: {expectation.cite()}; this time: {case.message}"
    return dataclasses.replace(case, status=Status.XFAIL, message=why, intermittent=True)


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
    result = TestResult(
        name=name,
        status=status,
        message=message,
        output="\n".join(node.log),
        metrics=dict(node.metrics),
        intermittent=expectation is not None and expectation.intermittent,
    )
    return _intermittent(result, expectation)


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
