#!/usr/bin/env python3
"""Fault costs with and without the series, measured in the guest (issue: kernel-series bench).

Runs bench/guest/faultbench in base-x86_64-thp-off and series-x86_64-thp-off
through `zpfarm run` (one run: both cells, the same machine), then prints
the series/base ratios against the goals:
  first-touch shmem read faults: series at least 2x faster than base, and
  within 10% of anonymous memory's zero-page read faults;
  read-then-write: no worse than 1.2x base;
  filling a hole read-faulted by N processes: how the cost grows with N.
Asserts nothing. Under TCG the absolute numbers are emulation times.
    .venv/bin/python bench/read_faults.py [--results results/bench-faults]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from farm import compare  # noqa: E402

PROGRAM = "faultbench"


def ns(cases: dict[str, compare.Case], name: str) -> float:
    return cases[f"{PROGRAM}.{name}"].metrics["ns_per_page"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=ROOT / "results" / "bench-faults")
    args = ap.parse_args()
    zpfarm = Path(sys.executable).parent / "zpfarm"
    argv = [str(zpfarm), "run", "--matrix", str(ROOT / "bench" / "matrix.toml"), "--no-selftests", "-q"]
    subprocess.run([*argv, "--results", str(args.results)], check=False)
    base, series = compare.split_kernels(compare.from_junit(args.results / "junit.xml"))
    b = {c.name: c for c in base}
    s = {c.name: c for c in series}
    rows = [
        ("shmem read fault", "read_ns_per_page[memfd]"),
        ("anon read fault", "read_ns_per_page[anon]"),
        ("shmem read, then write", "read_write_ns_per_page[memfd]"),
        *((f"fill a hole read by {n}", f"fill_ns_per_page[p{n}]") for n in (1, 4, 16, 64)),
    ]
    print(f"{'ns per page':28} {'base':>10} {'series':>10} {'series/base':>12}")
    for label, name in rows:
        print(f"{label:28} {ns(b, name):10.0f} {ns(s, name):10.0f} {ns(s, name) / ns(b, name):12.2f}")
    speedup = ns(b, "read_ns_per_page[memfd]") / ns(s, "read_ns_per_page[memfd]")
    vs_anon = ns(s, "read_ns_per_page[memfd]") / ns(s, "read_ns_per_page[anon]")
    rw = ns(s, "read_write_ns_per_page[memfd]") / ns(b, "read_write_ns_per_page[memfd]")
    growth = ns(s, "fill_ns_per_page[p64]") / ns(s, "fill_ns_per_page[p1]")
    print(f"shmem read faults: series {speedup:.2f}x faster than base (goal >= 2)")
    print(f"shmem/anon read fault with the series: {vs_anon:.2f} (goal <= 1.10)")
    print(f"read-then-write: series/base {rw:.2f} (goal <= 1.2)")
    print(f"filling a hole: 64 mappings cost {growth:.1f}x one mapping with the series")


if __name__ == "__main__":
    main()
