"""How a run looks on a terminal: a rich live table, or plain lines for CI logs and --quiet.

The Reporters here implement farm.report.progress.Reporter; both are
thread-safe (the builder and booter threads call them). Every text that
comes from outside (test names, messages, paths) is printed without markup
interpretation, so "[section]" in a name stays as it is.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from farm.bisect import Outcome
from farm.doctor import Check
from farm.judge import triage
from farm.model.matrix import Cell, Matrix
from farm.model.results import Report, Status, Suite, TestResult
from farm.model.suite_id import SuiteId
from farm.report import compare, stats
from farm.report.progress import tally

STYLE = {
    Status.PASS: "green",
    Status.XFAIL: "yellow",
    Status.SKIP: "dim",
    Status.FAIL: "red",
    Status.CRASH: "bold red",
    Status.BUILD: "red",
    Status.INFRA: "magenta",
    Status.INPUT: "magenta",
}


def summary(suite: Suite) -> Text:
    """'12 pass 3 xfail 1 fail', coloured, zero counts left out."""
    text = Text()
    for status, n in tally(suite).items():
        if n:
            text.append(f"{n} {status.value} ", style=STYLE[status])
    return text


@dataclass
class _Row:
    phase: str = "waiting"
    detail: str = ""
    last: str = ""
    since: float = field(default_factory=time.monotonic)
    results: list[Text] = field(default_factory=list)


class LiveReporter:
    """A table of cells: phase, time in phase, the last output line, results."""

    def __init__(self, console: Console, cells: Sequence[str]) -> None:
        self.console = console
        self.rows = {c: _Row() for c in cells}
        self.lock = threading.Lock()
        self.live = Live(console=console, get_renderable=self._table, refresh_per_second=4, transient=False)

    def _table(self) -> Table:
        table = Table(expand=True)
        for col in ("cell", "phase", "time", "now", "results"):
            wide = col in ("now", "results")  # share what is left; results wrap, "now" never vanishes
            table.add_column(col, no_wrap=col != "results", overflow="ellipsis", ratio=1 if wide else None)
        now = time.monotonic()
        with self.lock:
            for name, row in self.rows.items():
                elapsed = "" if row.phase in ("waiting", "done") else f"{now - row.since:4.0f}s"
                results = Text(" ").join(row.results)
                table.add_row(Text(name), Text(f"{row.phase} {row.detail}".strip()), elapsed, Text(row.last), results)
        return table

    def notice(self, text: str) -> None:
        self.console.print(Text.assemble(("zpfarm: ", "cyan"), text), soft_wrap=True)

    def phase(self, cell: str, phase: str, detail: str = "") -> None:
        with self.lock:
            row = self.rows[cell]
            row.phase, row.detail, row.last, row.since = phase, detail, "", time.monotonic()

    def line(self, cell: str, text: str) -> None:
        with self.lock:
            self.rows[cell].last = text.strip()[-120:]

    def suite_done(self, suite: Suite) -> None:
        identity = SuiteId.parse(suite.name)
        with self.lock:
            row = self.rows[identity.cell]
            row.results.append(Text(f"{identity.runtime}: ") + summary(suite))
            row.phase, row.detail, row.last = "done", "", ""

    @contextmanager
    def shown(self) -> Iterator[None]:
        with self.live:
            yield


class PlainReporter:
    """One line per event, for CI logs and --quiet."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.lock = threading.Lock()
        self.start = time.monotonic()

    def _print(self, text: str) -> None:
        with self.lock:
            self.console.print(f"[{time.monotonic() - self.start:7.1f}s] {text}", highlight=False, markup=False)

    def notice(self, text: str) -> None:
        self._print(f"zpfarm: {text}")

    def phase(self, cell: str, phase: str, detail: str = "") -> None:
        self._print(f"{cell}: {phase} {detail}".rstrip())

    def line(self, cell: str, text: str) -> None:
        pass

    def suite_done(self, suite: Suite) -> None:
        self._print(f"{suite.name}: {summary(suite).plain.strip() or 'no results'}")

    @contextmanager
    def shown(self) -> Iterator[None]:
        yield


def _cells(texts: Iterable[str]) -> list[Text]:
    return [Text(t) for t in texts]


def cells_json(cells: Sequence[Cell]) -> list[dict[str, object]]:
    return [
        {
            "cell": c.name,
            "kernel": c.kernel.value,
            "arch": c.arch.name,
            "kconfig": c.kconfig.name,
            "fragments": [str(f) for f in c.kconfig.fragments],
            "runtimes": [r.name for r in c.runtimes],
            "build_only": c.arch.build_only,
        }
        for c in cells
    ]


def cells_table(m: Matrix, cells: Sequence[Cell]) -> Table:
    table = Table(title=f"{m.path} — {len(cells)} cells, {sum(len(c.runtimes) for c in cells)} boots")
    for col in ("cell", "kernel", "arch", "kconfig", "runtimes"):
        table.add_column(col)
    for c in cells:
        table.add_row(*_cells((c.name, c.kernel.value, c.arch.name, c.kconfig.name, _runtimes(c))))
    return table


def _runtimes(cell: Cell) -> str:
    return "none (build only)" if cell.arch.build_only else ", ".join(r.name for r in cell.runtimes)


def print_summary(console: Console, report: Report, junit_path: Path, history: triage.History | None = None) -> None:
    """Per suite: base and series side by side, flakes and failures by verdict, what the series changed."""
    table = Table(title="zpfarm results: base vs series")
    for col in ("arch-kconfig/runtime", "base", "series", "problems"):
        table.add_column(col, overflow="fold")
    by_key: dict[str, dict[str, Suite]] = {}
    for suite in report.suites:
        identity = SuiteId.parse(suite.name)
        by_key.setdefault(identity.pair_key, {})[identity.kernel.value if identity.kernel else suite.name] = suite
    for key, pair in by_key.items():
        bad = [
            f"{k}: {c.name}: {c.message}"
            for k, s in pair.items()
            for c in s.cases
            if c.status.is_error or c.status.is_failure
        ]
        cells = [summary(pair[k]) if k in pair else Text("") for k in ("base", "series")]
        more = f"\n… {len(bad) - 3} more" if len(bad) > 3 else ""
        table.add_row(Text(key), *cells, Text("\n".join(bad[:3]) + more))
    console.print(table)
    print_verdicts(console, report, history)
    base, series = compare.split_kernels(compare.from_suites(report.suites))
    changes = compare.diff(base, series)
    if not changes:
        return
    console.print(change_counts_table(changes))
    console.print(f"Every change: zpfarm compare {junit_path}", soft_wrap=True)
    regressions = [c for c in changes if c.kind is compare.Kind.REGRESSION]
    if regressions:
        console.print(changes_table(regressions, "base", "series"))


def print_verdicts(console: Console, report: Report, history: triage.History | None = None) -> None:
    """The run's flaky tests and its failures by verdict (regression, new failure; "failed" without a history)."""
    judged = triage.of_suites(report.suites, history)
    for verdict in (triage.Verdict.REGRESSION, triage.Verdict.NEW_FAILURE, triage.Verdict.FAILED, triage.Verdict.FLAKY):
        found = [j for j in judged if j.verdict is verdict]
        if not found:
            continue
        console.print(Text(f"{verdict.value}: {len(found)}", style="bold"))
        for j in found[:10]:
            why = j.result.attempts[0].message if verdict is triage.Verdict.FLAKY and j.result.attempts else ""
            line = f"  {j.suite}: {j.result.name}" + (f" (failed once: {why})" if why else "")
            console.print(Text(line), soft_wrap=True)  # test names hold brackets: never markup
        if len(found) > 10:
            console.print(f"  ... {len(found) - 10} more (JUnit)")
    for suite in report.suites:
        if note := suite.properties.get("rerun_notes"):
            console.print(Text(f"{suite.name}: {note}"), soft_wrap=True)


def change_counts_table(changes: Sequence[compare.Change]) -> Table:
    """One row per suite: how many changes of each kind the series made."""
    counts: dict[str, Counter[compare.Kind]] = {}
    for c in changes:
        counts.setdefault(c.suite, Counter())[c.kind] += 1
    table = Table(title="what changed from base to series")
    table.add_column("arch-kconfig/runtime", overflow="fold")
    for kind in compare.Kind:
        table.add_column(kind.value, justify="right")
    for suite, n in counts.items():
        table.add_row(Text(suite), *(str(n[kind] or "") for kind in compare.Kind))
    return table


def changes_table(changes: Sequence[compare.Change], before: str, after: str) -> Table:
    table = Table(title=f"what changed from {before} to {after}")
    for col in ("change", "suite", "test", before, after):
        table.add_column(col, overflow="fold")
    style = {"regression": "bold red", "fix": "green", "metric": "cyan"}
    for c in changes:
        table.add_row(
            Text(c.kind.value, style=style.get(c.kind.value, "")), *_cells((c.suite, c.test, c.before, c.after))
        )
    return table


def stats_table(judged: Sequence[stats.Stat], bands: Mapping[str, str] | None = None) -> Table:
    """One row per metric; bands: the noise band a metric was judged against, when not the default."""
    table = Table(title="metrics, by statistics (ratio: after/before, Hodges-Lehmann, 95% interval)")
    for col in ("metric", "n", "median before", "median after", "MAD%", "ratio [95% CI]", "p", "q", "verdict"):
        table.add_column(col, overflow="fold")
    style = {"regression": "bold red", "improvement": "green", "no change": "", "inconclusive": "yellow"}
    bands = bands or {}
    for s in judged:
        ci = "exact" if s.exact else f"[{s.low:.3f}, {s.high:.3f}]"
        table.add_row(
            *_cells((s.metric, f"{s.before.n}/{s.after.n}", f"{s.before.median:g}", f"{s.after.median:g}")),
            Text(f"{s.before.mad_pct:.1f}/{s.after.mad_pct:.1f}"),
            Text(f"{s.ratio:.3f} {ci}"),
            Text(f"{s.p:.3g}"),
            Text(f"{s.q:.3g}"),
            Text(s.text, style=style[s.verdict.value]) + Text(f"\nband {bands[s.metric]}" if s.metric in bands else ""),
        )
    return table


def build_each_table(report: Report) -> Table:
    table = Table(title="build-each: one build per patch")
    for col in ("cell", "step", "verdict"):
        table.add_column(col, overflow="fold")
    for suite in report.suites:
        for case in suite.cases:
            mark = Text("ok", "green") if case.status is Status.PASS else Text(case.status.value, "red")
            table.add_row(
                Text(suite.name.removeprefix("build-each/")), Text(case.name), mark + Text(f" {case.message}")
            )
    return table


def bisect_table(outcome: Outcome, log: Path) -> Table:
    table = Table(title=f"bisect steps (log: {log})")
    for col in ("commit", "subject", "verdict", "time", "why"):
        table.add_column(col, overflow="fold")
    for st in outcome.steps:
        style = {"good": "green", "bad": "red"}.get(st.verdict, "yellow")
        table.add_row(st.commit[:12], Text(st.subject), Text(st.verdict, style), f"{st.elapsed:.0f}s", Text(st.why))
    return table


def cases_table(cases: Sequence[TestResult], title: str) -> Table:
    table = Table(title=title)
    for col in ("test", "verdict", "message"):
        table.add_column(col, overflow="fold")
    for c in cases:
        table.add_row(Text(c.name), Text(c.status.value, STYLE[c.status]), Text(c.message))
    return table


def doctor_table(checks: Sequence[Check]) -> Table:
    table = Table(title="zpfarm doctor")
    for col in ("check", "", "detail", "needed by", "fix"):
        table.add_column(col)
    for c in checks:
        mark = Text("ok", "green") if c.ok else Text("missing", "red")
        table.add_row(Text(c.name), mark, *_cells((c.detail, c.needed_by, "" if c.ok else c.fix)))
    return table


def sweep_table(report: Report) -> Table:
    """zpfarm sweep: per toolchain its counts, then every case that did not pass or skip."""
    table = Table(title="sweep: the objects of each patch, per toolchain and config")
    for col in ("toolchain", "patch [config]", "verdict"):
        table.add_column(col, overflow="fold")
    for suite in report.suites:
        toolchain = Text(suite.name.removesuffix("/sweep"))
        table.add_row(toolchain, Text(f"{len(suite.cases)} cases"), summary(suite))
        for case in suite.cases:
            if case.status not in (Status.PASS, Status.SKIP):
                mark = Text(case.status.value, STYLE[case.status])
                table.add_row(toolchain, Text(case.name), mark + Text(f" {case.message}"))
    return table
