#!/usr/bin/env python3
"""The whole matrix in one `zpfarm run`: its wall time against the sum of its phases.

The farm builds cell k+1 while cell k boots and tests (one build and one guest
at a time, so the 2 cores are not oversubscribed). If that overlap works, the
wall time is well under the sum of the kernel builds and the guest runs; if
the phases ran one after another it would be at least their sum.

Runs `zpfarm run -q` (the default matrix, or what the arguments after `--`
select), times it, and reads the phases back from its JUnit: `build_seconds`
per cell and the time of every (cell, runtime) suite (boot + tests).
Asserts nothing; the numbers go in the README.
    .venv/bin/python bench/matrix_wall.py [--results DIR] [-- --cell 'base-*']
A run timed elsewhere (`date +%s` before and after) can be read back instead:
    .venv/bin/python bench/matrix_wall.py --junit results/X/junit.xml --wall SECONDS
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import junitparser

ROOT = Path(__file__).resolve().parent.parent


def phases(junit: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Build seconds per cell and boot+test seconds per suite, from a zpfarm JUnit file."""
    builds: dict[str, float] = {}
    guests: dict[str, float] = {}
    for suite in junitparser.JUnitXml.fromfile(str(junit)):
        props = {p.name: p.value for p in suite.properties()}
        cell = suite.name.split("/")[0]
        builds[cell] = float(props.get("build_seconds", 0))
        guests[suite.name] = float(suite.time)
    return builds, guests


def minutes(seconds: float) -> str:
    return f"{seconds / 60:7.1f} min"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=ROOT / "results" / "bench-matrix")
    ap.add_argument("--junit", type=Path, help="report this finished run instead of starting one (needs --wall)")
    ap.add_argument("--wall", type=float, help="the finished run's wall time in seconds")
    ap.add_argument("run_args", nargs="*", help="extra `zpfarm run` arguments (after --)")
    args = ap.parse_args()
    if (args.junit is None) != (args.wall is None):
        ap.error("--junit and --wall go together")
    if args.junit is not None:
        junit, wall, what = args.junit, args.wall, f"{args.junit}:"
    else:
        zpfarm = Path(sys.executable).parent / "zpfarm"
        argv = [str(zpfarm), "run", "-q", "--results", str(args.results), *args.run_args]
        start = time.monotonic()
        code = subprocess.run(argv, check=False).returncode
        junit, wall, what = args.results / "junit.xml", time.monotonic() - start, f"zpfarm run exit {code}:"

    builds, guests = phases(junit)
    built, tested = sum(builds.values()), sum(guests.values())
    print(f"\n{what} {len(builds)} cells, {len(guests)} boots")
    print(f"  wall time                    {minutes(wall)}")
    print(f"  kernel builds (sum)          {minutes(built)}")
    print(f"  guest boots + tests (sum)    {minutes(tested)}")
    print(f"  phases one after another     {minutes(built + tested)}")
    print(f"  wall / sum of phases         {wall / (built + tested):7.2f}")
    print(f"  wall / guests alone          {wall / tested:7.2f}   (1.00 = every build hidden behind a guest)")
    print("  (the rest of the wall time: source, worktree, selftests and testcases builds, rootfs)")


if __name__ == "__main__":
    main()
