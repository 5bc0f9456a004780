"""What the history keeps of a suite, from the farm's own Suites or from a JUnit file (hostile input).

A JUnit file is read through the farm's JUnit reader (farm.report.junit: one
level of named <testsuite>s, whole XML; each case's status as junit.read_case
reads it) and then checked here: its size, every name's length, times and
timestamps. Anything else is one UserError naming the file, before anything is
recorded.

Reruns in Maven Surefire's dialect count as failed attempts: a passing
<testcase> with <flakyFailure>/<flakyError> children passed on a rerun;
<rerunFailure>/<rerunError> beside a <failure> are the reruns that failed too.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from farm.model.errors import UserError
from farm.model.results import Status, Suite, TestResult
from farm.report import junit

MAX_BYTES = 256 * 1024 * 1024  # a JUnit file; GitLab refuses reports over 30 MB
MAX_NAME = 1024  # characters in a suite's or a test's name
MAX_VALUE = 64 * 1024  # characters in a property's value
_METRIC = re.compile(r"metric: ([a-z0-9_]+)=(-?[0-9.]+(?:e-?[0-9]+)?)")  # as farm.report.compare reads them
_RERUNS = ("flakyFailure", "flakyError", "rerunFailure", "rerunError")
_NO_METRICS: Mapping[str, float] = MappingProxyType({})


class CaseRecord(NamedTuple):
    """One test's outcome as recorded (a tuple: a run has hundreds, and ingest makes hundreds of thousands)."""

    name: str
    status: Status
    failed_attempts: int = 0
    elapsed: float | None = None
    metrics: Mapping[str, float] = _NO_METRICS


@dataclass(frozen=True)
class SuiteRecord:
    name: str  # CELL/RUNTIME
    properties: Mapping[str, str]
    started: str  # ISO 8601 UTC
    elapsed: float
    cases: tuple[CaseRecord, ...]


def from_suites(suites: Iterable[Suite]) -> list[SuiteRecord]:
    """The records of a run's own suites (statuses as the stages judged them)."""
    return [
        SuiteRecord(
            s.name,
            dict(s.properties),
            _utc(s.timestamp),
            s.elapsed,
            tuple(_case(c) for c in s.cases),
        )
        for s in suites
    ]


def _case(c: TestResult) -> CaseRecord:
    attempts = getattr(c, "failed_attempts", 0)  # reruns: set when TestResult carries its attempts
    return CaseRecord(c.name, c.status, attempts if isinstance(attempts, int) else 0, c.elapsed, dict(c.metrics))


def _utc(when: datetime) -> str:
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).isoformat(timespec="seconds")


def from_junit(path: Path) -> list[SuiteRecord]:
    """Every suite of a JUnit file; UserError naming the file for anything that is not a sane one."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise UserError(f"{path}: cannot read it ({e.strerror or e})") from None
    if size > MAX_BYTES:
        raise UserError(f"{path}: {size} bytes, more than the {MAX_BYTES} a JUnit file may have here")
    records = [_suite(path, element) for element in junit.suite_elements(path)]
    if not records:
        raise UserError(f"{path}: no <testsuite> in it")
    return records


def _suite(path: Path, element: ET.Element) -> SuiteRecord:
    name = _name(path, element.get("name", ""), "suite")
    props: dict[str, str] = {}
    for p in element.iterfind("properties/property"):
        key, value = _name(path, p.get("name", ""), f"property of suite {name[:80]!r}"), p.get("value", "")
        if len(value) > MAX_VALUE:
            raise UserError(f"{path}: suite {name[:80]!r}: property {key!r} has {len(value)} characters")
        props[key] = value
    cases = tuple(_testcase(path, name, tc) for tc in element.iterfind("testcase"))
    return SuiteRecord(name, props, _timestamp(path, name, element.get("timestamp")), _seconds(path, element), cases)


def _testcase(path: Path, suite: str, tc: ET.Element) -> CaseRecord:
    name = tc.get("name", "")
    if not 0 < len(name) <= MAX_NAME or name.isspace():
        _name(path, name, f"test of suite {suite[:80]!r}")  # says what is wrong with it
    elapsed = _seconds(path, tc) if tc.get("time") is not None else None
    if not len(tc):  # a plain pass: most of a run
        return CaseRecord(name, Status.PASS, 0, elapsed)
    read = junit.read_case(tc)
    attempts = sum(1 for child in tc if child.tag in _RERUNS)
    return CaseRecord(name, read.status, attempts, elapsed, _metrics(read.text) if "metric:" in read.text else {})


def _name(path: Path, name: str, what: str) -> str:
    if not name or not name.strip():
        raise UserError(f"{path}: a {what} without a name")
    if len(name) > MAX_NAME:
        raise UserError(f"{path}: a {what} named {name[:60]!r}... has {len(name)} characters (at most {MAX_NAME})")
    return name


def _seconds(path: Path, element: ET.Element) -> float:
    raw = element.get("time", "0")
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 <= value < math.inf:  # NaN too
        raise UserError(f"{path}: {element.tag} {element.get('name', '')[:80]!r}: time={raw[:40]!r} is not seconds")
    return value


def _timestamp(path: Path, suite: str, raw: str | None) -> str:
    if not raw:
        return ""
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise UserError(f"{path}: suite {suite[:80]!r}: timestamp {raw[:40]!r} is not ISO 8601") from None
    return _utc(when)


def _metrics(text: str) -> dict[str, float]:
    found = {}
    for key, value in _METRIC.findall(text):
        try:
            number = float(value)
        except ValueError:
            continue
        if math.isfinite(number):
            found[key] = number
    return found
