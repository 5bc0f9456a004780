#!/usr/bin/env python3
"""How often zpfarm compare's statistics call a change, on simulated runs (seeded, no boot).

Lognormal samples with 5% noise (sigma of the log = 0.05), n runs a side, the
after side shifted by +0%, +4%, +8%, +15%: the share of 2,000 trials called a
regression, an improvement, no change, or inconclusive, with the full 2,000
bootstrap resamples compare uses (the fast tests use 200: tests/test_stats.py).
For contrast, LKP's default rule (lib/changed_stat.rb: ranges apart and the
means more than 1% apart) on the same samples.
    .venv/bin/python bench/stats_power.py [--trials 2000] [--resamples 2000]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from farm.report import stats
from farm.report.stats import Verdict


def lkp(n: int, shift: float, trials: int, seed: int = 1) -> float:
    """The share of trials LKP's range rule flags (both sides the same as simulate() draws)."""
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0.0, 0.05, (trials, n))
    b = rng.lognormal(math.log1p(shift), 0.05, (trials, n))
    ma, mb = a.mean(axis=1), b.mean(axis=1)
    apart = ((b.min(axis=1) > ma) & (mb > a.max(axis=1))) | ((a.min(axis=1) > mb) & (ma > b.max(axis=1)))
    big = np.maximum(mb / ma, ma / mb) > 1.01
    return float((apart & big).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--resamples", type=int, default=stats.RESAMPLES)
    args = ap.parse_args()
    print(f"{args.trials} trials each, 5% noise, {args.resamples} bootstrap resamples")
    print(f"{'n':>3} {'shift':>6} {'regression':>11} {'improvement':>12} {'no change':>10} {'inconclusive':>13} "
          f"{'LKP flags':>10} {'seconds':>8}")  # fmt: skip
    for n in (3, 5, 10):
        for shift in (0.0, 0.04, 0.08, 0.15):
            start = time.monotonic()
            found = stats.simulate(n, shift, args.trials, resamples=args.resamples)
            share = {v: 100 * found[v] / args.trials for v in Verdict}
            print(
                f"{n:>3} {shift:>+6.0%} {share[Verdict.REGRESSION]:>10.1f}% {share[Verdict.IMPROVEMENT]:>11.1f}% "
                f"{share[Verdict.NO_CHANGE]:>9.1f}% {share[Verdict.INCONCLUSIVE]:>12.1f}% "
                f"{100 * lkp(n, shift, args.trials):>9.1f}% {time.monotonic() - start:>8.1f}"
            )


if __name__ == "__main__":
    main()
