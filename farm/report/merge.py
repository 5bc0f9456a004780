"""Merge per-job JUnit files into one report (what a CI's report job does).

Every <testsuite> of every input is kept with its properties, in input
order. The same suite (same name) in two inputs is kept once when both
copies are identical (a re-uploaded artifact) and is an error when they
differ (two different runs claim one suite). A suite the plan expects but no
input holds becomes a <testsuite> with one <error> testcase, so a lost job
never looks like a pass. An input that is truncated, not XML or not JUnit is
a one-line error naming the file.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from farm.host import files
from farm.model.errors import UserError
from farm.model.plan import Stage
from farm.model.results import Attempt, Status, Suite, TestResult
from farm.report import junit

LOST_CASE = "job"  # the testcase a lost suite carries
LOST_TYPE = "infra"  # its <error type=...>: the farm's machinery lost it, not a test verdict
_COUNTS = ("tests", "failures", "errors", "skipped")


@dataclass(frozen=True)
class Merged:
    """What a merge wrote."""

    suites: tuple[str, ...]  # every suite in the output, in order
    lost: tuple[str, ...]  # expected suites no input held: written as <error> suites
    repeated: tuple[str, ...]  # suites found twice with the same content, kept once
    notes: tuple[str, ...] = ()  # what a reader must know first: "mixed bases: v6.12.117, v6.12.118 (line v6.12)"


def lost_message(suite: str) -> str:
    return f"job lost: no JUnit for {suite}"


def merge(inputs: Sequence[Path], output: Path, expected: Sequence[str] = (), *, now: datetime | None = None) -> Merged:
    """Merge inputs into output (written atomically); expected: the suites the plan runs."""
    files.writable_file(output, "--output")
    suites: dict[str, ET.Element] = {}
    origin: dict[str, Path] = {}
    canonical: dict[str, str] = {}
    repeated: list[str] = []
    for path in inputs:
        for element in junit.suite_elements(path):
            name = element.get("name", "")
            text = ET.canonicalize(ET.tostring(element, encoding="unicode"), strip_text=True)
            if name not in suites:
                suites[name], origin[name], canonical[name] = element, path, text
            elif canonical[name] == text:
                repeated.append(name)
            else:
                raise UserError(f"suite {name!r} differs between {origin[name]} and {path}: two runs of one suite")
    lost = tuple(name for name in dict.fromkeys(expected) if name not in suites)
    when = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    for name in lost:
        suites[name] = _lost_suite(name, when)
    root = ET.Element("testsuites", {"name": junit.REPORT_NAME})
    root.extend(suites.values())
    _total(root)
    ET.indent(root)
    files.atomic_write(output, ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")
    return Merged(tuple(suites), lost, tuple(repeated), _mixed_bases(suites.values()))


def _mixed_bases(suites: Iterable[ET.Element]) -> tuple[str, ...]:
    """A note per stable line whose suites ran on more than one point release (jobs on different days)."""
    releases: dict[str, set[str]] = {}
    for suite in suites:
        props = {p.get("name"): p.get("value", "") for p in suite.iter("property")}
        if props.get("base") and props.get("base_line"):
            releases.setdefault(str(props["base_line"]), set()).add(str(props["base"]))
    return tuple(
        f"mixed bases: {', '.join(sorted(found))} (line {line}) in one merged file"
        for line, found in sorted(releases.items())
        if len(found) > 1
    )


def expected_suites(plan: Path) -> tuple[str, ...]:
    """The suite names a plan file's test and sweep rows write: a whole plan, or one stage's {"include": [...]}."""
    try:
        data = json.loads(plan.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{plan}: no such plan file") from None
    except (OSError, ValueError) as e:
        raise UserError(f"{plan}: not a JSON plan: {e}") from None
    whole = isinstance(data, dict) and "include" not in data
    stages = [data.get(Stage.TEST.value), data.get(Stage.SWEEP.value, {"include": []})] if whole else [data]
    names: list[str] = []
    for stage in stages:
        rows = stage.get("include") if isinstance(stage, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise UserError(f"{plan}: not a zpfarm plan (no test rows with a 'suite')")
        for row in rows:
            names += _row_suites(row, plan)
    return tuple(names)


def _row_suites(row: dict[str, object], plan: Path) -> list[str]:
    """A test row's 'suite', or a sweep row's 'suites'."""
    one, many = row.get("suite"), row.get("suites")
    if isinstance(one, str):
        return [one]
    if isinstance(many, list) and many and all(isinstance(s, str) for s in many):
        return [str(s) for s in many]
    raise UserError(f"{plan}: not a zpfarm plan (a row with neither a 'suite' nor 'suites')")


def judged_suites(path: Path) -> list[Suite]:
    """A merged file's suites as the verdicts read them: each case's status, and a failed attempt
    for a pass that failed on another (<flakyFailure>); UserError as junit.read says."""
    epoch = datetime.fromtimestamp(0, UTC)
    return [
        Suite(
            s.name,
            tuple(TestResult(c.name, c.status, attempts=(Attempt(Status.FAIL),) if c.flaky else ()) for c in s.cases),
            dict(s.properties),
            "",
            epoch,
            0.0,
        )
        for s in junit.read(path)
    ]


def suite_times(path: Path) -> dict[str, float]:
    """Seconds per suite of an earlier run's JUnit file; empty when there is none or it is unreadable."""
    try:
        return {element.get("name", ""): _number(element, "time") for element in junit.suite_elements(path)}
    except UserError:
        return {}


def _lost_suite(name: str, when: str) -> ET.Element:
    suite = ET.Element(
        "testsuite",
        {"name": name, "tests": "1", "failures": "0", "errors": "1", "skipped": "0", "time": "0.000"},
    )
    suite.set("timestamp", when)
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", {"name": "lost", "value": "true"})
    case = ET.SubElement(suite, "testcase", {"classname": name, "name": LOST_CASE, "time": "0.000"})
    error = ET.SubElement(case, "error", {"type": LOST_TYPE, "message": lost_message(name)})
    error.text = f"{lost_message(name)}: its job failed before writing results, or its artifact was not collected"
    return suite


def _total(root: ET.Element) -> None:
    """The root's counts and time: the sums of its suites' (kept as each job wrote them)."""
    totals = dict.fromkeys(_COUNTS, 0)
    seconds = 0.0
    for suite in root.findall("testsuite"):
        for key in _COUNTS:
            totals[key] += int(_number(suite, key))
        seconds += _number(suite, "time")
    for key, value in totals.items():
        if key != "skipped":  # not a <testsuites> attribute in junit-10.xsd
            root.set(key, str(value))
    root.set("time", f"{seconds:.3f}")


def _number(suite: ET.Element, key: str) -> float:
    raw = suite.get(key, "0" if key in ("skipped", "time") else None)
    try:
        return float(raw or "")
    except ValueError:
        raise UserError(f"suite {suite.get('name')!r}: {key}={raw!r} is not a number") from None
