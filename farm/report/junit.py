"""Write test results as JUnit XML (junit-xml builds it, ElementTree adjusts it).

One <testsuite> per Suite ("<cell>/<runtime>").  PASS is a plain testcase,
FAIL a <failure>, CRASH and INFRA an <error>, SKIP a <skipped>, XFAIL a
<skipped type="xfail">.  The file is replaced atomically, so a reader never
sees a half-written report.  Output validates against pytest's junit-10.xsd.
"""

from __future__ import annotations

import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from junit_xml import TestCase, TestSuite, to_xml_report_string

from farm.model.results import Status, TestResult

REPORT_NAME = "zpfarm"
XFAIL_TYPE = "xfail"

# Characters XML 1.0 cannot carry (console logs have BEL, ESC, NUL...).
_ILLEGAL_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DEFAULT_MESSAGE = {
    Status.FAIL: "failed",
    Status.CRASH: "crashed",
    Status.INFRA: "infrastructure failure",
    Status.SKIP: "skipped",
    Status.XFAIL: "known failure",
}


@dataclass(frozen=True)
class Suite:
    """One <testsuite>: the results of one runtime in one matrix cell."""

    name: str  # "<cell>/<runtime>", e.g. "series-x86_64-thp-on/shmem-never"
    cases: tuple[TestResult, ...]
    properties: Mapping[str, str]  # arch, kconfig, runtime, kernel, kernel_release, ...
    system_out: str  # console log path or excerpt
    timestamp: datetime  # timezone-aware UTC
    elapsed: float


def scrub(text: str) -> str:
    """Replace characters XML cannot carry with a visible '#xNN' (as pytest does)."""
    return _ILLEGAL_XML.sub(lambda m: f"#x{ord(m.group()):02X}", text)


def _case(suite: Suite, result: TestResult) -> TestCase:
    case = TestCase(
        name=scrub(result.name),
        classname=scrub(suite.name),
        elapsed_sec=result.elapsed,
    )
    message = scrub(result.message or _DEFAULT_MESSAGE.get(result.status, ""))
    output = scrub(result.output)
    if result.status is Status.FAIL:
        case.add_failure_info(message=message, output=output)
    elif result.status.is_error:
        case.add_error_info(message=message, output=output)
    elif result.status in (Status.SKIP, Status.XFAIL):
        case.add_skipped_info(message=message, output=output)
    elif output:
        case.stdout = output
    return case


def _suite(suite: Suite) -> TestSuite:
    if suite.timestamp.tzinfo is None:
        raise ValueError(f"suite {suite.name!r}: timestamp must be timezone-aware")
    return TestSuite(
        name=scrub(suite.name),
        test_cases=[_case(suite, result) for result in suite.cases],
        timestamp=suite.timestamp.isoformat(timespec="seconds"),
        properties={scrub(k): scrub(v) for k, v in suite.properties.items()},
        stdout=scrub(suite.system_out) or None,
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
                skipped.set("type", XFAIL_TYPE)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def write(path: Path, suites: Sequence[Suite]) -> None:
    """Atomically write the report: temp file in the same directory, fsync, rename."""
    data = render(suites)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o644)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
