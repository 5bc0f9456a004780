"""Test results as JUnit XML, written and read: the one module that knows the format.

Writing: junit-xml builds the file, ElementTree adjusts it. Reading (compare, merge, the
history of earlier runs): ElementTree, for files this farm or another CI job wrote, so every
file is checked as hostile input and a bad one is one UserError naming it.

One <testsuite> per Suite ("<cell>/<runtime>").  PASS is a plain testcase,
FAIL a <failure>, CRASH and INFRA an <error>, SKIP a <skipped>, XFAIL a
<skipped type="xfail">.  The file is replaced atomically, so a reader never
sees a half-written report.  Output validates against pytest's junit-10.xsd.

The dialect CI consumers need (GitLab's test tab, the GitHub publishers):
one level of <testsuite>, every testcase's classname is its suite, the
(classname, name) pairs are unique (GitLab drops duplicates: a repeated
name gets " #2", " #3"... in order), a time on every testcase that was
timed, and system-out kept small: texts over a cap keep their head and
tail, and the full log is named in the suite's "log" property (the caller
puts it in Suite.properties).

Reruns (TestResult.attempts) use Maven Surefire's rerun dialect, which
junit-xml cannot write, so render() adds it to the ElementTree: a test that
passed on one attempt is a passing <testcase> with a <flakyFailure> (or
<flakyError>) per failed attempt; one that failed every attempt is its
<failure> (or <error>) plus a <rerunFailure> (or <rerunError>) per rerun.
Readers that do not know these elements (GitLab's test report, junitparser's
base classes) see the pass or the failure, which is the verdict.
An intermittent known issue's xfail is <skipped type="intermittent">.
"""

from __future__ import annotations

import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from junit_xml import TestCase, TestSuite, to_xml_report_string

from farm.host import files
from farm.model.errors import InfraError, UserError
from farm.model.results import Report, Status, Suite, TestResult
from farm.model.suite_facts import LOG_PROPERTY

REPORT_NAME = "zpfarm"
XFAIL_TYPE = "xfail"
INTERMITTENT_TYPE = "intermittent"  # the <skipped type> of an xfail an intermittent known issue covers
# Caps on text kept in the XML (characters): GitLab refuses reports over 30 MB,
# dorny's check-run text stops at 64 KiB, and logs are artifacts anyway.
SUITE_OUTPUT_LIMIT = 64 * 1024
CASE_OUTPUT_LIMIT = 16 * 1024
# Where a JUnit goes when its own place is full: memory first (a full disk fills /tmp too).
SPARE_DIRS = (Path("/dev/shm"), Path(tempfile.gettempdir()))

# Characters XML 1.0 cannot carry (console logs have BEL, ESC, NUL...).
_ILLEGAL_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DEFAULT_MESSAGE = {
    Status.FAIL: "failed",
    Status.BUILD: "the kernel does not build",
    Status.CRASH: "crashed",
    Status.INFRA: "infrastructure failure",
    Status.INPUT: "bad input",
    Status.SKIP: "skipped",
    Status.XFAIL: "known failure",
}


def scrub(text: str) -> str:
    """Replace characters XML cannot carry with a visible '#xNN' (as pytest does)."""
    return _ILLEGAL_XML.sub(lambda m: f"#x{ord(m.group()):02X}", text)


def unique_names(names: Sequence[str]) -> list[str]:
    """names with repeats made unique in order: "t", "t #2", "t #3" (never another given name)."""
    taken = set(names)
    seen: set[str] = set()
    out = []
    for name in names:
        unique, n = name, 1
        while unique in seen:
            n += 1
            unique = f"{name} #{n}"
            if unique in taken:  # "t #2" is a real test's name: keep counting
                unique = name
        seen.add(unique)
        out.append(unique)
    return out


def cap(text: str, limit: int, log: str = "") -> str:
    """text, or its head and tail around a note saying how much was cut and where it all is."""
    if len(text) <= limit:
        return text
    keep = limit // 2
    where = f"; the whole log: {log}" if log else ""
    note = f"\n[... {len(text) - 2 * keep} characters cut{where} ...]\n"
    return text[:keep] + note + text[-keep:]


def _case(suite: Suite, result: TestResult, name: str) -> TestCase:
    case = TestCase(
        name=scrub(name),
        classname=scrub(suite.name),
        elapsed_sec=result.elapsed,
    )
    message = scrub(result.message or _DEFAULT_MESSAGE.get(result.status, ""))
    output = scrub(_case_output(result))
    if result.status.is_failure:
        case.add_failure_info(message=message, output=output, failure_type=result.status.value)
    elif result.status.is_error:
        case.add_error_info(message=message, output=output, error_type=result.status.value)
    elif result.status in (Status.SKIP, Status.XFAIL):
        case.add_skipped_info(message=message, output=output)
    elif output:
        case.stdout = output
    return case


def _case_output(result: TestResult) -> str:
    """The test's output, capped; metric lines cut from the middle come back at the end."""
    kept = cap(result.output, CASE_OUTPUT_LIMIT)
    if kept == result.output:
        return kept
    lost = [f"# metric: {k}={v:g}" for k, v in sorted(result.metrics.items()) if f"metric: {k}=" not in kept]
    return "\n".join([kept, *lost]) if lost else kept


def _suite(suite: Suite) -> TestSuite:
    if suite.timestamp.tzinfo is None:
        raise ValueError(f"suite {suite.name!r}: timestamp must be timezone-aware")
    names = unique_names([result.name for result in suite.cases])
    return TestSuite(
        name=scrub(suite.name),
        test_cases=[_case(suite, result, name) for result, name in zip(suite.cases, names, strict=True)],
        timestamp=suite.timestamp.isoformat(timespec="seconds"),
        properties={scrub(k): scrub(v) for k, v in suite.properties.items()},
        stdout=scrub(cap(suite.system_out, SUITE_OUTPUT_LIMIT, suite.properties.get(LOG_PROPERTY, ""))) or None,
    )


def render(suites: Sequence[Suite]) -> bytes:
    """The JUnit XML document for these suites, UTF-8 with a declaration."""
    text = to_xml_report_string([_suite(s) for s in suites], prettyprint=False)
    root = ET.fromstring(text)
    root.set("name", REPORT_NAME)
    root.attrib.pop("disabled", None)  # not in junit-10.xsd
    root.set("time", _seconds(sum(s.elapsed for s in suites)))
    for element, suite in zip(root.findall("testsuite"), suites, strict=True):
        element.attrib.pop("disabled", None)
        element.set("time", _seconds(suite.elapsed))
        for case_element, result in zip(element.findall("testcase"), suite.cases, strict=True):
            if result.elapsed is not None:
                case_element.set("time", _seconds(result.elapsed))
            if result.status is Status.XFAIL:
                skipped = case_element.find("skipped")
                assert skipped is not None
                skipped.set("type", INTERMITTENT_TYPE if result.intermittent else XFAIL_TYPE)
            _add_attempts(case_element, result)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _add_attempts(element: ET.Element, result: TestResult) -> None:
    """Surefire's <flakyFailure>/<rerunFailure> (and the Error ones) for the attempts that went wrong."""
    rerun = result.status.is_failure or result.status.is_error
    for attempt in result.attempts:
        if not (attempt.status.is_failure or attempt.status.is_error):
            continue
        kind = "Failure" if attempt.status.is_failure else "Error"
        child = ET.SubElement(element, f"rerun{kind}" if rerun else f"flaky{kind}")
        child.set("message", scrub(attempt.message or _DEFAULT_MESSAGE.get(attempt.status, "")))
        child.set("type", attempt.status.value)
        if attempt.output:
            ET.SubElement(child, "system-out").text = scrub(cap(attempt.output, CASE_OUTPUT_LIMIT))


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def write(path: Path, suites: Sequence[Suite]) -> None:
    """Atomically write the report: temp file in the same directory, fsync, rename."""
    files.atomic_write(path, render(suites))


def write_somewhere(path: Path, suites: Sequence[Suite], spares: Sequence[Path] = SPARE_DIRS) -> tuple[Path, str]:
    """Write the JUnit at path or, when it cannot be (a full disk), in the first spare directory that takes it.

    Returns where it went and why path did not take it ("" when it did): results already
    computed are never lost to a full or read-only results directory.
    """
    try:
        write(path, suites)
        return path, ""
    except InfraError as e:
        problem = str(e)
    for directory in spares:
        spare = directory / f"zpfarm-{os.getpid()}-{path.name}"
        try:
            write(spare, suites)
        except InfraError:
            continue
        return spare, problem
    raise InfraError(f"{problem}; no spare place took it either ({', '.join(map(str, spares))})")


def append(report: Report, suite: Suite, path: Path) -> None:
    """Add a finished suite to report and rewrite the report's JUnit at path with it."""
    report.suites.append(suite)
    write(path, report.suites)
    report.junit = path


@dataclass(frozen=True)
class ReadCase:
    name: str
    status: Status
    text: str  # the message, the result's text and system-out: where metrics are printed
    flaky: bool = False  # a pass with <flakyFailure> or <flakyError>: it failed on another attempt
    intermittent: bool = False  # <skipped type="intermittent">: an intermittent known issue covers it


@dataclass(frozen=True)
class ReadSuite:
    name: str
    properties: tuple[tuple[str, str], ...]
    cases: tuple[ReadCase, ...]

    def property(self, name: str) -> str | None:
        return next((value for key, value in self.properties if key == name), None)


def suite_elements(path: Path) -> list[ET.Element]:
    """The top-level <testsuite> elements of one JUnit file; UserError if it is not one."""
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise UserError(f"{path}: no such JUnit file") from None
    except ET.ParseError as e:
        raise UserError(f"{path}: not a whole XML file (truncated?): {e}") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read: {e.strerror}") from None
    if root.tag == "testsuite":
        found = [root]
    elif root.tag == "testsuites":
        found = root.findall("testsuite")
    else:
        raise UserError(f"{path}: not a JUnit file (root element <{root.tag}>, expected <testsuites>)")
    for element in found:
        if not element.get("name"):
            raise UserError(f"{path}: a <testsuite> without a name (not a zpfarm JUnit file)")
        if element.find("testsuite") is not None:
            raise UserError(f"{path}: suite {element.get('name')!r} nests suites (one level expected)")
    return found


def read(path: Path) -> list[ReadSuite]:
    """Every suite of a JUnit file with its properties and cases; UserError naming the file if it is not one."""
    suites = []
    for element in suite_elements(path):
        name = element.get("name", "")
        properties = tuple((p.get("name", ""), p.get("value", "")) for p in element.iter("property"))
        cases = []
        for case in element.findall("testcase"):
            if not case.get("name"):
                raise UserError(f"{path}: a <testcase> of {name!r} has no name")
            cases.append(_read_case(case))
        suites.append(ReadSuite(name, properties, tuple(cases)))
    return suites


def read_case(case: ET.Element) -> ReadCase:
    """One <testcase> element's status and text, as every reader here reads it (for the run history)."""
    return _read_case(case)


def _read_case(case: ET.Element) -> ReadCase:
    """A testcase's status the way render() wrote it: the result element and its type."""
    out = case.findtext("system-out") or ""
    for tag in ("failure", "error", "skipped"):
        result = case.find(tag)
        if result is None:
            continue
        text = f"{result.get('message') or ''}\n{result.text or ''}\n{out}"
        if tag == "skipped" and result.get("type") == INTERMITTENT_TYPE:
            return ReadCase(case.get("name", ""), Status.XFAIL, text, intermittent=True)
        kind = _STATUS_BY_TYPE.get(result.get("type") or "")
        if tag == "skipped":
            return ReadCase(case.get("name", ""), Status.XFAIL if kind is Status.XFAIL else Status.SKIP, text)
        if tag == "failure":
            return ReadCase(case.get("name", ""), kind if kind and kind.is_failure else Status.FAIL, text)
        return ReadCase(case.get("name", ""), kind if kind and kind.is_error else Status.CRASH, text)
    flaky = case.find("flakyFailure") is not None or case.find("flakyError") is not None
    return ReadCase(case.get("name", ""), Status.PASS, f"\n{out}", flaky=flaky)


_STATUS_BY_TYPE = {s.value: s for s in Status}


def read_suites(path: Path) -> list[Suite]:
    """The file's suites whole, as written: properties, timestamps, each case's message, output,
    metrics and time (what the reports that leave the farm start from); UserError as read() says."""
    found = []
    for element in suite_elements(path):
        props = {p.get("name", ""): p.get("value", "") for p in element.iter("property") if p.get("name")}
        cases = tuple(_read_result(path, element.get("name", ""), case) for case in element.findall("testcase"))
        when = _timestamp(element.get("timestamp"))
        out = element.findtext("system-out") or ""
        found.append(Suite(element.get("name", ""), cases, props, out, when, _float(element.get("time")) or 0.0))
    return found


def _read_result(path: Path, suite: str, case: ET.Element) -> TestResult:
    if not case.get("name"):
        raise UserError(f"{path}: a <testcase> of {suite!r} has no name")
    read = _read_case(case)
    result = next((r for tag in ("failure", "error", "skipped") if (r := case.find(tag)) is not None), None)
    message = (result.get("message") or "") if result is not None else ""
    output = (result.text or "") if result is not None else (case.findtext("system-out") or "")
    metrics = {k: float(v) for k, v in _METRIC_LINE.findall(f"{message}\n{output}") if _float(v) is not None}
    return TestResult(read.name, read.status, message, output, metrics, _float(case.get("time")))


_METRIC_LINE = re.compile(r"metric: ([a-z0-9_]+)=(-?[0-9.]+(?:e-?[0-9]+)?)")


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _timestamp(stamp: str | None) -> datetime:
    """A suite's timestamp as aware UTC (missing or unreadable: the epoch)."""
    try:
        when = datetime.fromisoformat(stamp) if stamp else datetime.fromtimestamp(0, UTC)
    except ValueError:
        return datetime.fromtimestamp(0, UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)
