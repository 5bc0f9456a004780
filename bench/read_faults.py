#!/usr/bin/env python3
"""Fault costs with and without the series, measured in the guest (issue: kernel-series bench).

Runs bench/guest/faultbench in the base and series cells of a bench matrix
(bench/matrix.toml: x86_64 thp-off on Linux 6.12 with kernel-series/v6.12;
bench/matrix-v7.3.toml: the same on Linux 7.3 with kernel-series/v7.3)
through `zpfarm run` (both cells, the same machine), --boots times, then
prints the medians and series/base ratios against the goals:
  first-touch shmem read faults: series at least 2x faster than base, and
  within 10% of anonymous memory's zero-page read faults (reading every
  page, and reading one page per 64 KiB: a fault per read, whatever
  fault-around maps);
  read-then-write: no worse than 1.2x base;
  filling a hole read-faulted by N processes: how the cost grows with N,
  and against base (v1 of the series: 6.3x at N=64);
  end to end, the N processes' reads of that hole (on base the first
  allocates) plus its fill: no worse than base at N = 1, 4, 16, 64;
  filling holes nobody read, of a file that 0, 16 or 64 other processes map,
  after one read of an unrelated hole: no worse than 1.05x base at every N;
  and the same against the same boot's fill with nothing of the file read
  (what the one read adds, with each kernel's own speed divided out).
Also: one read per 64 KiB then a write to every page, where the writes
meet the zero page that fault-around mapped next to each read: no worse than
1.05x base.
Asserts nothing. Under TCG the absolute numbers are emulation times, and
they move by up to 2x from one boot to the next (faultbench already takes
the best of 5 repetitions within a boot, and the guest has one vCPU: see
bench/matrix.toml): hence several boots and medians. With --accel icount
the guest's clock counts instructions (1 ns each): the numbers are the
instructions the guest executed, nearly the same on every boot, and blind
to what makes one kernel's code slower to emulate than another's (and to
cache misses, which hardware would show).
    .venv/bin/python bench/read_faults.py [--boots 3] [--results results/bench-faults]
        [--matrix bench/matrix-v7.3.toml] [--accel icount]
Print again from the boots of earlier runs, pooled, without booting:
    .venv/bin/python bench/read_faults.py --saved results/bench-faults results/bench-faults-2
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from farm.model.arches import Accel  # noqa: E402
from farm.report import compare, pooled  # noqa: E402

PROGRAM = "faultbench"


ROWS = (
    ("shmem read fault", "read_ns_per_page[memfd]"),
    ("shmem read fault, PROT_READ", "read_ns_per_page[memfd-ro]"),
    ("anon read fault", "read_ns_per_page[anon]"),
    ("shmem read, then write", "read_write_ns_per_page[memfd]"),
    ("anon read, then write", "read_write_ns_per_page[anon]"),
    ("shmem read, 1 per 64 KiB", "read_ns_per_fault[memfd]"),
    ("anon read, 1 per 64 KiB", "read_ns_per_fault[anon]"),
    ("shmem 1 read per 64 KiB, write all", "sparse_read_write_ns_per_page[memfd]"),
    ("anon 1 read per 64 KiB, write all", "sparse_read_write_ns_per_page[anon]"),
    *((f"fill a hole read by {n}", f"fill_ns_per_page[p{n}]") for n in (1, 4, 16, 64)),
    *((f"read by {n}, then filled (end to end)", f"read_fill_ns_per_page[p{n}]") for n in (1, 4, 16, 64)),
    *((f"fill unread holes, {n} mappers", f"unread_fill_ns_per_page[p{n}]") for n in (0, 16, 64)),
    *((f"fill holes, file unread, {n} mappers", f"untouched_fill_ns_per_page[p{n}]") for n in (0, 16, 64)),
)
# Rows faultbench printed since a later version: boots of earlier versions lack them.
NEWER = {f"untouched_fill_ns_per_page[p{n}]" for n in (0, 16, 64)} | {
    f"read_fill_ns_per_page[p{n}]" for n in (1, 4, 16, 64)
}


Metrics = dict[str, float]  # ns per page by test case name


def boot_once(matrix: Path, accel: str, results: Path) -> tuple[Metrics, Metrics]:
    """One `zpfarm run` of both cells: ns per page by metric, for base and for series."""
    zpfarm = Path(sys.executable).parent / "zpfarm"
    argv = [str(zpfarm), "run", "--matrix", str(matrix), "--accel", accel, "--no-selftests", "-q"]
    subprocess.run([*argv, "--results", str(results)], check=False, stdout=subprocess.DEVNULL)
    return read_boot(results)


def read_boot(results: Path) -> tuple[Metrics, Metrics]:
    """ns per page by metric, for base and for series, from one boot's JUnit."""
    base, series = compare.split_kernels(compare.from_junit(results / "junit.xml"))

    def ns(cases: list[compare.Case]) -> Metrics:
        return {c.name: c.metrics["ns_per_page"] for c in cases if "ns_per_page" in c.metrics}

    metrics = ns(base), ns(series)
    for kernel, m in zip(("base", "series"), metrics, strict=True):
        missing = [name for _, name in ROWS if f"{PROGRAM}.{name}" not in m and name not in NEWER]
        if missing:
            sys.exit(f"{kernel}: no {', '.join(missing)} in {results / 'junit.xml'}: did a build or boot fail?")
    return metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=ROOT / "results" / "bench-faults")
    ap.add_argument(
        "--matrix", type=Path, default=ROOT / "bench" / "matrix.toml", help="the bench matrix: one base and its series"
    )
    ap.add_argument("--boots", type=int, default=3, help="boot each kernel this many times; medians are printed")
    ap.add_argument(
        "--accel",
        default=Accel.AUTO.value,
        choices=[a.value for a in Accel],
        help="zpfarm run's --accel; icount: guest time counts instructions (see above)",
    )
    ap.add_argument("--saved", type=Path, nargs="+", help="no boots: read the boot-* results under these directories")
    args = ap.parse_args()
    if args.saved:
        boots = [boot for d in args.saved for boot in sorted(d.glob("boot-*"))]
        runs = [read_boot(boot) for boot in boots]
        if not runs:
            sys.exit(f"no boot-* results under {' '.join(map(str, args.saved))}")
    else:
        boots = [args.results / f"boot-{i}" for i in range(1, args.boots + 1)]
        runs = [boot_once(args.matrix, args.accel, boot) for boot in boots]

    def median(kernel: int, name: str) -> float:
        return statistics.median(run[kernel][f"{PROGRAM}.{name}"] for run in runs)

    def per_boot(ratio: Callable[[Metrics, Metrics], float]) -> list[float]:
        return sorted(ratio(b, s) for b, s in runs)

    def series_over_base(key: str) -> Callable[[Metrics, Metrics], float]:
        return lambda base, series: series[key] / base[key]

    print(f"ns per page, median of {len(runs)} boots of each kernel")
    print(f"{'':36} {'base':>10} {'series':>10} {'series/base':>12}  series/base per boot")

    def measured(name: str) -> bool:
        return all(f"{PROGRAM}.{name}" in m for run in runs for m in run)

    for label, name in ROWS:
        if not measured(name):
            print(f"{label:36} not measured in these boots")
            continue
        b, s = median(0, name), median(1, name)
        ratios = " ".join(f"{r:.2f}" for r in per_boot(series_over_base(f"{PROGRAM}.{name}")))
        print(f"{label:36} {b:10.0f} {s:10.0f} {s / b:12.2f}  {ratios}")

    # Ratios within one boot cancel that boot's noise; anonymous memory runs the
    # same code in both kernels, so its ratio calibrates a base/series pair.
    def each(ratio: Callable[[Metrics, Metrics], float]) -> str:
        values = per_boot(ratio)
        return f"{statistics.median(values):.2f} (per boot: {' '.join(f'{v:.2f}' for v in values)})"

    def shmem_over_anon(m: Metrics, test: str) -> float:
        return m[f"{PROGRAM}.{test}[memfd]"] / m[f"{PROGRAM}.{test}[anon]"]

    def relative(key: str, control: str) -> Callable[[Metrics, Metrics], float]:
        """series/base of key, each kernel's key first divided by its control in the same boot."""
        return lambda b, s: (s[key] / s[control]) / (b[key] / b[control])

    def normalized(test: str) -> Callable[[Metrics, Metrics], float]:
        return relative(f"{PROGRAM}.{test}[memfd]", f"{PROGRAM}.{test}[anon]")

    read = f"{PROGRAM}.read_ns_per_page[memfd]"
    print("shmem read faults, base/series:", each(lambda b, s: b[read] / s[read]), "goal >= 2")
    print(
        "shmem/anon read fault, series, same boot:",
        each(lambda b, s: shmem_over_anon(s, "read_ns_per_page")),
        "goal <= 1.10",
    )
    print("  the same, one read per 64 KiB (a fault each):", each(lambda b, s: shmem_over_anon(s, "read_ns_per_fault")))
    print(
        "read-then-write, series/base:",
        each(series_over_base(f"{PROGRAM}.read_write_ns_per_page[memfd]")),
        "goal <= 1.2",
    )
    print("  the same, each kernel's shmem over its anon:", each(normalized("read_write_ns_per_page")))
    print(
        "one read per 64 KiB, then write every page, series/base:",
        each(series_over_base(f"{PROGRAM}.sparse_read_write_ns_per_page[memfd]")),
        "goal <= 1.05",
    )
    print("  the same, each kernel's shmem over its anon:", each(normalized("sparse_read_write_ns_per_page")))
    fill = f"{PROGRAM}.fill_ns_per_page"
    print("filling a hole, 64 mappings / 1, series:", each(lambda b, s: s[f"{fill}[p64]"] / s[f"{fill}[p1]"]))
    print("filling a hole read by 64, series/base:", each(series_over_base(f"{fill}[p64]")), "v1: 6.3")
    # What base pays at read time (it allocates the pages) against what the series pays at the fill.
    for n in (1, 4, 16, 64):
        if measured(f"read_fill_ns_per_page[p{n}]"):
            read_fill = series_over_base(f"{PROGRAM}.read_fill_ns_per_page[p{n}]")
            print(f"read by {n}, then filled, end to end, series/base:", each(read_fill), "goal <= 1.00")
    for n in (0, 16, 64):
        unread = f"{PROGRAM}.unread_fill_ns_per_page[p{n}]"
        print(f"filling unread holes, {n} other mappers, series/base:", each(series_over_base(unread)), "goal <= 1.05")
        if measured(f"untouched_fill_ns_per_page[p{n}]"):
            untouched = f"{PROGRAM}.untouched_fill_ns_per_page[p{n}]"
            print("  over the same boot's fill of a file nobody read:", each(relative(unread, untouched)))

    # The same numbers through zpfarm compare's statistics (farm/report/stats.py):
    # each boot's base against its series, pooled; the verdict needs >= 4 boots.
    print()
    print("series/base by statistics (zpfarm compare --kernels on the same JUnit files):")
    print(pooled.markdown(pooled.kernels([boot / "junit.xml" for boot in boots]).metrics), end="")


if __name__ == "__main__":
    main()
