#!/usr/bin/env python3
"""The run history at scale: ingest N runs of M cases from JUnit files, then ask it what flakes.

Writes N JUnit files as the farm writes them (one suite of M cases each: most
pass, 2% flake at 30%, 1% always fail, 1% skip; seeded), then times, on a
fresh history file: `History.ingest` of all of them (one run per file, the way
`zpfarm history ingest` and the CI report job record them), `History.flaky`
over the last 30 runs (what `zpfarm history flaky` answers; then the whole
command, Python's start included, beside `zpfarm --help`: the CLI's own start),
and one test's summaries (`zpfarm history TEST`), and the verdicts of the
last run's results by the runs before it (what a run's summary asks). Prints each time and its
ratio to the goal (ingest of 1,000 x 735 < 15 s; flaky < 1 s). Asserts nothing.

    .venv/bin/python bench/history.py [--runs 1000] [--cases 735] [--work /var/tmp]

About a minute on 2 idle cores (writing the JUnit files is half of it). Results: docs/results.md.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from farm.judge import triage  # noqa: E402
from farm.model.results import Status, Suite, TestResult  # noqa: E402
from farm.report import junit  # noqa: E402
from farm.report.history import History, earlier  # noqa: E402

GOAL_INGEST_S = 15.0  # for 1,000 runs x 735 cases
GOAL_FLAKY_S = 1.0
START = datetime(2026, 1, 1, tzinfo=UTC)


def names(cases: int) -> list[str]:
    programs = ["coherence", "memory", "pins", "stress", "thp", "zeropage", "private", "sharing", "uffd-unit-tests"]
    return [f"{programs[i % len(programs)]}.case_{i:04d}[memfd,shared]" for i in range(cases)]


def statuses(rng: random.Random, cases: int) -> list[Status]:
    """The same kinds for the same case in every run: steady, flaky (30%), failing or skipped."""
    kinds = random.Random(7).choices(["steady", "flaky", "failing", "skip"], [0.96, 0.02, 0.01, 0.01], k=cases)
    pick = {
        "steady": lambda: Status.PASS,
        "flaky": lambda: Status.FAIL if rng.random() < 0.3 else Status.PASS,
        "failing": lambda: Status.FAIL,
        "skip": lambda: Status.SKIP,
    }
    return [pick[k]() for k in kinds]


def write_runs(where: Path, runs: int, cases: int) -> list[Path]:
    rng = random.Random(1)
    tests = names(cases)
    paths = []
    for n in range(runs):
        props = {"kernel": "series", "arch": "x86_64", "base": "v7.3.4", "base_line": "v7.3", "commit": f"{n:040x}"}
        results = tuple(TestResult(t, s, elapsed=0.01) for t, s in zip(tests, statuses(rng, cases), strict=True))
        suite = Suite("series-x86_64-thp-on/default", results, props, "", START + timedelta(hours=n), 60.0)
        path = where / f"junit-{n:05d}.xml"
        junit.write(path, [suite])
        paths.append(path)
    return paths


def verdicts(path: Path, latest: Path, runs: int) -> None:
    """What a run's summary asks of the history: every result of the latest run, judged by the runs before it."""
    suites = junit.read_suites(latest)
    began = time.monotonic()
    found = earlier.answers(earlier.Mark(path, runs - 1), suites)
    took = time.monotonic() - began
    assert found is not None
    judged = triage.of_suites(suites, found)
    kinds = ", ".join(f"{sum(j.verdict is v for j in judged)} {v.value}" for v in {j.verdict for j in judged})
    print(f"the summary's verdicts of one run's {len(suites[0].cases)} results: {took:.3f} s ({kinds})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--cases", type=int, default=735)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.work, prefix="zpfarm-history-bench-") as tmp:
        where = Path(tmp)
        began = time.monotonic()
        paths = write_runs(where, args.runs, args.cases)
        print(f"wrote {args.runs} JUnit files of {args.cases} cases in {time.monotonic() - began:.1f} s")
        goal = GOAL_INGEST_S * args.runs * args.cases / (1000 * 735)
        with History.open(where / "history.sqlite") as history:
            began = time.monotonic()
            history.ingest(paths)
            ingest = time.monotonic() - began
            print(f"ingest: {ingest:.2f} s ({ingest / goal:.2f}x the goal of {goal:.1f} s)")
            began = time.monotonic()
            flaky = history.flaky()
            took = time.monotonic() - began
            print(
                f"flaky (last 30 runs): {len(flaky)} tests in {took:.3f} s ({took / GOAL_FLAKY_S:.3f}x the goal of 1 s)"
            )
            zpfarm = str(Path(sys.executable).parent / "zpfarm")
            began = time.monotonic()
            subprocess.run([zpfarm, "--help"], check=True, capture_output=True)
            start = time.monotonic() - began
            began = time.monotonic()
            argv = [zpfarm, "history", "flaky", "--history", str(where / "history.sqlite")]
            subprocess.run(argv, check=True, capture_output=True)
            took = time.monotonic() - began
            print(f"`zpfarm history flaky`, the whole command: {took:.3f} s ({took / GOAL_FLAKY_S:.3f}x the goal;"
                  f" `zpfarm --help` alone: {start:.3f} s)")  # fmt: skip
            test = names(args.cases)[0]
            began = time.monotonic()
            history.summaries(test)
            print(f"one test's history over {args.runs} runs: {time.monotonic() - began:.3f} s")
        verdicts(where / "history.sqlite", paths[-1], args.runs)
        size = (where / "history.sqlite").stat().st_size
        print(f"history file: {size / 1e6:.1f} MB ({size / (args.runs * args.cases):.0f} bytes per outcome)")


if __name__ == "__main__":
    main()
