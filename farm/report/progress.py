"""How a run shows its progress: a rich live table on a terminal, plain lines otherwise.

The pipeline calls a Reporter from two threads (builder and booter); both
implementations are thread-safe. Nothing here decides anything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from farm.model.results import Status
from farm.report.junit import Suite

STYLE = {
    Status.PASS: "green",
    Status.XFAIL: "yellow",
    Status.SKIP: "dim",
    Status.FAIL: "red",
    Status.CRASH: "bold red",
    Status.INFRA: "magenta",
}


class Reporter(Protocol):
    def notice(self, text: str) -> None: ...
    def phase(self, cell: str, phase: str, detail: str = "") -> None: ...
    def line(self, cell: str, text: str) -> None: ...
    def suite_done(self, suite: Suite) -> None: ...


def tally(suite: Suite) -> dict[Status, int]:
    counts = dict.fromkeys(Status, 0)
    for case in suite.cases:
        counts[case.status] += 1
    return counts


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
                table.add_row(name, f"{row.phase} {row.detail}".strip(), elapsed, row.last, results)
        return table

    def notice(self, text: str) -> None:
        self.console.print(f"[cyan]zpfarm:[/] {text}")

    def phase(self, cell: str, phase: str, detail: str = "") -> None:
        with self.lock:
            row = self.rows[cell]
            row.phase, row.detail, row.last, row.since = phase, detail, "", time.monotonic()

    def line(self, cell: str, text: str) -> None:
        with self.lock:
            self.rows[cell].last = text.strip()[-120:]

    def suite_done(self, suite: Suite) -> None:
        cell, _, runtime = suite.name.partition("/")
        with self.lock:
            row = self.rows[cell]
            row.results.append(Text(f"{runtime}: ") + summary(suite))
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
