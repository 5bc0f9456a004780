"""Synthetic runs for the history's tests and bench: JUnit files as the farm writes them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from farm.model.results import Status, Suite, TestResult
from farm.report import junit

SERIES_HASH = "fa6249c01a3430dc00b2852e8f5b83e4b4567d11527cf76276ea2ebf0398ff97"
START = datetime(2026, 12, 1, tzinfo=UTC)


def suite(
    n: int,
    cases: Sequence[tuple[str, Status]],
    cell: str = "series-x86_64-thp-on",
    runtime: str = "default",
    series: str = "",
    base: str = "v7.3.4",
) -> Suite:
    """Run n's suite of cell/runtime (started n hours after START) with these cases.

    The kernel's commit follows from the cell, the base and the series: the same kernel in every run
    of one series, as the farm builds it (fixed dates, the same hashes).
    """
    props = {
        "arch": "x86_64",
        "kconfig": "thp-on",
        "kernel": cell.split("-", 1)[0],
        "base": base,
        "base_line": base.rsplit(".", 1)[0],
        "commit": hashlib.sha1(f"{cell} {base} {series}".encode()).hexdigest(),
        "series_hash": SERIES_HASH if cell.startswith("series") else "",
        "zpfarm": "0.1.0 (abcdef012345)",
        "accel": "tcg",
        "runtime": runtime,
    }
    if series:
        props["series"] = series
        props["series_id"] = hashlib.sha256(f"patch-ids of {series}".encode()).hexdigest()
    results = tuple(TestResult(name, status, elapsed=0.5) for name, status in cases)
    return Suite(f"{cell}/{runtime}", results, props, "", START + timedelta(hours=n), 1.0)


def sequence(tmp: Path, test: str, letters: str, series: str | Sequence[str] = "v3", **kw: str) -> list[Path]:
    """One JUnit file per letter (P pass, F fail, S skip), each a run of test and a steady neighbour.

    series: the series every run tests, or one per run (a new version is a new kernel).
    """
    paths = []
    for n, letter in enumerate(letters, 1):
        status = {"P": Status.PASS, "F": Status.FAIL, "S": Status.SKIP}[letter]
        path = tmp / f"run{n:04d}" / "junit.xml"
        name = series if isinstance(series, str) else series[n - 1]
        junit.write(path, [suite(n, [(test, status), ("memory.steady", Status.PASS)], series=name, **kw)])
        paths.append(path)
    return paths
