#!/usr/bin/env python3
"""What `zpfarm sweep` costs: cold, warm, and against whole-kernel builds of the same configs.

In a cache directory of its own (--work, made if missing; the farm's own cache is never touched):
  cold   the sweep with nothing prepared and an empty ccache (the kernel worktree, made
         first, is timed apart as "trees");
  warm   the same sweep again: every config kept, every object a ccache hit;
  full   with --full, one whole-kernel build (`make`, no ccache) per selected
         (toolchain, config), from the config the sweep prepared, in a fresh O= directory.
Goals (the issue's): the default sweep within 60 min cold and 10 min warm, and at least
10x cheaper than whole-kernel builds of the same configs. Prints seconds and ratios;
asserts nothing. Every make runs under nice -n 10 with -j2 by default.

    .venv/bin/python bench/sweep.py --matrix M [--only GLOB ...] [--work DIR] [--full]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from farm import sweep  # noqa: E402
from farm.host.cache import Cache  # noqa: E402
from farm.model import matrix  # noqa: E402
from farm.model.results import Report, Status, Suite  # noqa: E402
from farm.trees import Tree, prepare_trees  # noqa: E402


class Lines:
    """A reporter that prints each phase on one line."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def notice(self, text: str) -> None:
        print(f"[{time.monotonic() - self.start:7.1f}s] {text}", flush=True)

    def phase(self, cell: str, phase: str, detail: str = "") -> None:
        self.notice(f"{cell}: {phase} {detail[:100]}")

    def line(self, cell: str, text: str) -> None: ...

    def suite_done(self, suite: Suite) -> None:
        counts = {s.value: suite.count(s) for s in Status if suite.count(s)}
        self.notice(f"{suite.name}: {counts}")


def timed_sweep(opts: sweep.Options) -> tuple[float, Report]:
    report = Report()
    start = time.monotonic()
    sweep.run(opts, Lines(), report)
    return time.monotonic() - start, report


def full_build(opts: sweep.Options, tree: Path, name: str, config: str) -> float:
    """One whole-kernel build from the prepared config: fresh O=, no ccache."""
    prepared = opts.cache.root / "sweep" / name / config
    out = opts.cache.root / "bench-full" / name / config
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.copy(prepared / ".config", out / ".config")
    (tc,) = [t for t in opts.sweep.toolchains if t.name == name]
    make = ["nice", "-n", str(opts.nice), "make", f"-j{opts.jobs}", f"O={out}"]
    make += [f"{k}={v}" for k, v in tc.make_vars().items()] + [f"CC={tc.cc}"]
    start = time.monotonic()
    for target in (["olddefconfig"], []):
        done = subprocess.run([*make, *target], cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            print(f"  {name}/{config}: whole build failed: {done.stderr.strip().splitlines()[-1:]}")
    elapsed = time.monotonic() - start
    shutil.rmtree(out, ignore_errors=True)
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--matrix", type=Path, default=ROOT / "matrix.toml")
    ap.add_argument("--only", action="append", default=[], metavar="GLOB", help="TOOLCHAIN/CONFIG (repeatable)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/zpfarm-bench-sweep"), help="the bench's own cache")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--full", action="store_true", help="also time whole-kernel builds of the same configs")
    args = ap.parse_args()
    cache = Cache(args.work)
    m = matrix.load(args.matrix)
    opts = sweep.options(m, cache, args.work / "results", args.work / "results/junit.xml", tuple(args.only), args.jobs)

    start = time.monotonic()
    trees = prepare_trees(cache, {(s, matrix.Kernel.SERIES) for s in m.sources})
    tree_s = time.monotonic() - start
    for stale in (cache.root / "sweep", cache.ccache):
        shutil.rmtree(stale, ignore_errors=True)
    cold, report = timed_sweep(opts)
    warm, again = timed_sweep(opts)
    pairs = [(s.name.split("/")[0], c.name.rsplit("[", 1)[1].rstrip("]")) for s in report.suites for c in s.cases]
    configs = sorted(set(pairs))
    cases = sum(len(s.cases) for s in report.suites)
    print(f"\ntrees (worktree, series applied): {tree_s:.0f} s, not counted below")
    print(f"sweep: {len(report.suites)} toolchains, {len(configs)} prepared configs, {cases} cases")
    print(f"cold: {cold:.0f} s ({cold / 60:.1f} min; goal 60 min: {cold / 3600:.2f} of it)")
    print(f"warm: {warm:.0f} s ({warm / 60:.1f} min; goal 10 min: {warm / 600:.2f} of it)")
    print(f"cold/warm: {cold / warm:.1f}x")
    same = [(c.name, c.status) for s in report.suites for c in s.cases]
    print(f"warm verdicts equal the cold ones: {same == [(c.name, c.status) for s in again.suites for c in s.cases]}")
    if args.full:
        (tree,) = [t for t in trees.values() if isinstance(t, Tree)]
        whole = 0.0
        for name, config in configs:
            if not (cache.root / "sweep" / name / config / ".config").is_file():
                continue  # a toolchain that is not installed
            spent = full_build(opts, tree.path, name, config)
            print(f"  whole kernel {name}/{config}: {spent:.0f} s")
            whole += spent
        print(f"whole kernels: {whole:.0f} s, {whole / cold:.1f}x the cold sweep (goal >= 10x)")


if __name__ == "__main__":
    main()
