"""Run history: every run's test outcomes in one SQLite file, and what they say about each test.

History.open(path)                                   the file (WAL, busy timeout, migrated)
history.record(suites, RunMeta(...)) -> Recorded     a run's suites
history.ingest([junit, ...]) -> list[Recorded]       CI artifacts, each file one run
history.outcomes(test, cell_glob, base_line, last) -> list[RunOutcome]   oldest first
history.passed_before(test, cell, base_line, before_run) -> bool
history.fail_rate(test, cell_glob, last, base_line, before_run) -> Rate   failed/n, Wilson 95%
history.summaries(test, cell_glob, last, base_line) -> list[Summary]   per suite: trend, streak, since
history.flaky(last, cell_glob) -> list[FlakyTest]
history.metric(test, name, cell_glob, last) -> list[MetricSample]   a number a test printed, run by run
keep(path, suites, meta) -> str | None               record, never raise: a warning line instead
keep_junit(path, junit_files, meta) -> str | None    the same for JUnit files, each one run
earlier.mark(path), earlier.answers(mark, suites)    triage.History from the runs before a command's
noise.last_aa(history, metric) -> Band | None        a metric's noise band from its last A/A
"""

from farm.report.history.keep import keep, keep_junit
from farm.report.history.schema import SCHEMA
from farm.report.history.store import (
    DEFAULT,
    ENV,
    FILE_NAME,
    History,
    Recorded,
    RunMeta,
    default_path,
    host_facts,
)
from farm.report.history.trend import DEFAULT_LAST, summarize
from farm.report.history.values import (
    FlakyTest,
    MetricSample,
    Rate,
    RunOutcome,
    Summary,
    Trend,
    describe,
    run_label,
    wilson,
)

__all__ = [
    "DEFAULT",
    "DEFAULT_LAST",
    "ENV",
    "FILE_NAME",
    "SCHEMA",
    "FlakyTest",
    "History",
    "MetricSample",
    "Rate",
    "Recorded",
    "RunMeta",
    "RunOutcome",
    "Summary",
    "Trend",
    "default_path",
    "describe",
    "host_facts",
    "keep",
    "keep_junit",
    "run_label",
    "summarize",
    "wilson",
]
