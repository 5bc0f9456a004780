"""A zpfarm JUnit file read back into Suites: properties, verdicts, messages, outputs.

What junit.write wrote comes back as it went in (metrics from the "metric:"
lines); the reports that leave the farm (email, KCIDB, patchwork checks)
start from here. Anything that is not a JUnit file with named suites and
cases is a UserError naming the file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from farm.model.errors import UserError
from farm.model.results import Suite, TestResult
from farm.report import compare


def suites(path: Path) -> list[Suite]:
    """Every <testsuite> of the file, in order."""
    import junitparser

    try:
        xml = junitparser.JUnitXml.fromfile(str(path))
    except (OSError, SyntaxError, junitparser.JUnitXmlError) as e:
        raise UserError(f"{path}: not a readable JUnit file: {e}") from None
    if isinstance(xml, junitparser.TestSuite):
        xml = [xml]
    found = []
    for number, suite in enumerate(xml, 1):
        if not suite.name:
            raise UserError(f"{path}: <testsuite> #{number} has no name (not a zpfarm JUnit file)")
        cases = tuple(_case(path, suite.name, tc) for tc in suite)
        props = {name: value or "" for name, value in compare._properties(suite) if name}
        out = suite._elem.findtext("system-out") or ""
        found.append(Suite(suite.name, cases, props, out, _when(suite.timestamp), float(suite.time or 0.0)))
    return found


def _case(path: Path, suite: str, tc: Any) -> TestResult:
    if not tc.name:
        raise UserError(f"{path}: a <testcase> of {suite!r} has no name")
    results = getattr(tc, "result", [])
    status, _ = compare._status(tc)
    message = results[0].message or "" if results else ""
    output = (results[0].text or "") if results else (tc.system_out or "")
    elapsed = float(tc.time) if tc._elem.get("time") is not None else None
    metrics = compare._metrics(f"{message}\n{output}")
    return TestResult(tc.name, status, message, output, metrics, elapsed)


def _when(stamp: str | None) -> datetime:
    """The suite's timestamp as aware UTC (a missing or naive one: UTC, or the epoch)."""
    try:
        when = datetime.fromisoformat(stamp) if stamp else datetime.fromtimestamp(0, UTC)
    except ValueError:
        return datetime.fromtimestamp(0, UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)
