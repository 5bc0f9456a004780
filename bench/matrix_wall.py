#!/usr/bin/env python3
"""The whole matrix in one `zpfarm run`: its wall time against the sum of its phases.

The farm builds cell k+1 while earlier cells boot and test, and with --jobs N
runs N guests at once. If that overlap works, the wall time is well under the
sum of the kernel builds and the guest runs (and, with N guests, under the sum
of the guests); if the phases ran one after another it would be at least
their sum. With --against-serial the same selection runs first with one guest
at a time, and the ratio of the two wall times is printed. From the measured
job times it also prints what a fleet of CI runners would take for the plan
(farm.plan.wall_time: list scheduling, tests after their build).

Runs `zpfarm run -q` (the default matrix, or what the arguments after `--`
select), times it, and reads the phases back from its JUnit: `build_seconds`
per cell and the time of every (cell, runtime) suite (boot + tests).
Asserts nothing; results: docs/results.md.
    .venv/bin/python bench/matrix_wall.py [--results DIR] [--jobs N [--against-serial]] [-- --cell 'base-*']
A run timed elsewhere (`date +%s` before and after) can be read back instead:
    .venv/bin/python bench/matrix_wall.py --junit results/X/junit.xml --wall SECONDS [--cpu SECONDS]
The CPU time the run used (its processes and guests, from getrusage) gives the
cores a guest keeps busy, from which it models how many guests fill a bigger host.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import junitparser

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from farm import pipeline, plan  # noqa: E402
from farm.model import matrix  # noqa: E402
from farm.model.arches import Arch  # noqa: E402
from farm.model.plan import Toolchain  # noqa: E402

FLEETS = (1, 2, 4, 8, 16)


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


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run(results: Path, jobs: int | None, run_args: list[str]) -> tuple[Path, float, float, str]:
    """One timed `zpfarm run -q`: its JUnit, wall seconds, CPU seconds (it and its guests) and a label."""
    zpfarm = Path(sys.executable).parent / "zpfarm"
    argv = [str(zpfarm), "run", "-q", "--results", str(results), *(["--jobs", str(jobs)] if jobs else []), *run_args]
    start, cpu = time.monotonic(), _children_cpu()
    code = subprocess.run(argv, check=False).returncode
    label = f"zpfarm run --jobs {jobs or 'default'} exit {code}:"
    return results / "junit.xml", time.monotonic() - start, _children_cpu() - cpu, label


def report(junit: Path, wall: float, what: str, cpu: float | None) -> tuple[dict[str, float], dict[str, float]]:
    builds, guests = phases(junit)
    built, tested = sum(builds.values()), sum(guests.values())
    print(f"\n{what} {len(builds)} cells, {len(guests)} boots")
    print(f"  wall time                    {minutes(wall)}")
    print(f"  kernel builds (sum)          {minutes(built)}")
    print(f"  guest boots + tests (sum)    {minutes(tested)}")
    print(f"  phases one after another     {minutes(built + tested)}")
    print(f"  wall / sum of phases         {wall / (built + tested):7.2f}")
    print(
        f"  wall / guests alone          {wall / tested:7.2f}   (1.00 = every build hidden behind one guest at a time)"
    )
    print("  (the rest of the wall time: source, worktree, selftests and testcases builds, rootfs)")
    if cpu is not None:
        print(f"  CPU time (run + guests)      {minutes(cpu)}   {cpu / wall:.2f} cores busy on average")
    return builds, guests


def fleet(builds: dict[str, float], guests: dict[str, float], run_args: list[str], per_guest: float | None) -> None:
    """The plan of the same cells (read back from the JUnit) on N CI runners, from the job times just measured."""
    flags = [i for i, a in enumerate(run_args[:-1]) if a in ("--matrix", "-m")]
    m = matrix.load(Path(run_args[flags[-1] + 1]) if flags else ROOT / "matrix.toml")
    chosen = m.select(sorted(guests))

    def toolchain(arch: Arch) -> Toolchain:
        return Toolchain(arch.cc, "measured")

    p = plan.make(m, chosen, toolchain=toolchain, series_hash="0" * 64)
    build_s = {row.key: builds[row.cell] for row in p.builds}
    test_s = {row.suite: guests[row.suite] for row in p.tests}
    print(f"\nthe plan of these cells on CI runners (critical path {minutes(plan.critical_path(p, build_s, test_s))})")
    for n in FLEETS:
        print(f"  {n:3d} runners                  {minutes(plan.wall_time(p, build_s, test_s, n))}")
    # One host's pool: guests at once by vCPUs and memory (pipeline.default_jobs), each keeping its vCPUs busy;
    # and, from the measured CPU use, as many as keep the cores busy (memory still counts).
    tested, longest = sum(guests.values()), max(guests.values())

    def spread(jobs: int) -> str:  # the guests' sum over the pool, never below its longest guest
        return minutes(max(longest, tested / jobs))

    print(f"\none host's pool ({m.guest.cpus}-vCPU, {m.guest.memory} guests; the guests' sum spread over the pool)")
    if per_guest is not None:
        print(f"  a guest kept {per_guest:.2f} cores busy (measured: CPU time / guests' sum)")
    for cores, gib in ((2, 24), (16, 64), (64, 256)):
        jobs = pipeline.default_jobs(m.guest, cores=cores, memory=gib << 30)
        line = f"  {cores:3d} cores, {gib:3d} GiB: by vCPUs {jobs:2d} at once  {spread(jobs)}"
        if per_guest is not None:
            fits = pipeline.default_jobs(m.guest, cores=cores, memory=gib << 30, cores_per_guest=per_guest)
            line += f";  by measured use {fits:2d} at once  {spread(fits)}"
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=ROOT / "results" / "bench-matrix")
    ap.add_argument("--jobs", type=int, help="guests at once (zpfarm run --jobs)")
    ap.add_argument("--against-serial", action="store_true", help="first run the same with --jobs 1")
    ap.add_argument("--junit", type=Path, help="report this finished run instead of starting one (needs --wall)")
    ap.add_argument("--wall", type=float, help="the finished run's wall time in seconds")
    ap.add_argument("--cpu", type=float, help="the finished run's CPU seconds, it and its guests (optional)")
    ap.add_argument("run_args", nargs="*", help="extra `zpfarm run` arguments (after --)")
    args = ap.parse_args()
    if (args.junit is None) != (args.wall is None):
        ap.error("--junit and --wall go together")
    if args.junit is not None:
        builds, guests = report(args.junit, args.wall, f"{args.junit}:", args.cpu)
        fleet(builds, guests, args.run_args, args.cpu / sum(guests.values()) if args.cpu else None)
        return
    serial_wall = per_guest = None
    if args.against_serial:
        junit, serial_wall, cpu, what = run(args.results.with_name(args.results.name + "-serial"), 1, args.run_args)
        per_guest = cpu / sum(report(junit, serial_wall, what, cpu)[1].values())
    junit, wall, cpu, what = run(args.results, args.jobs, args.run_args)
    builds, guests = report(junit, wall, what, cpu)
    if serial_wall is not None:
        print(f"\n  wall with --jobs {args.jobs} / wall with one guest at a time: {wall / serial_wall:.2f}")
    fleet(builds, guests, args.run_args, per_guest)


if __name__ == "__main__":
    main()
