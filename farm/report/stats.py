"""Did a number move? Statistics for metrics measured several times on each side (pure).

Per metric, given the samples of side A (before) and side B (after):
  n, median and MAD% (the median absolute deviation, as % of the median) per side;
  the Hodges-Lehmann ratio B/A: exp of the median of all pairwise differences
  of the log values, with a seeded percentile-bootstrap 95% interval;
  a two-sided Mann-Whitney U p-value, then Benjamini-Hochberg q-values across
  the metrics compared together.
The verdict:
  regression or improvement only when q < 0.05, the interval excludes 1, the
  ratio lies outside the noise band (what an A/A run moved: +-2% unless
  history knows better) and it moved by at least the metric's minimum;
  no change when the interval lies wholly inside the band (or that minimum);
  inconclusive otherwise, with about how many runs per side would decide.
Why the ratio and not the whole interval must clear the band: at 5% noise and
10 runs a side the 95% interval is about +-4.5% wide, so asking it to clear
+-2% finds a true +8% only 71% of the time (simulate() below; the goal is
80%); with the point estimate it finds 88%, and an A/A pair flags 4%.
Three runs per side can never be a regression: the smallest two-sided
Mann-Whitney p of 3 against 3 is 0.1. A deterministic metric (measured under
--accel icount, every sample of a side equal) is compared exactly, as BPF CI's
veristat compares verifier counts: any difference of at least the metric's
minimum (1%: a boot's instruction counts differ by a few in ten thousand) counts.
The verdict does not depend on the unit or the order of the samples: both
sides are sorted, and only ratios enter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy and scipy load where a number is judged, not with every zpfarm command
    import numpy as np

ALPHA = 0.05
NOISE_BAND = 0.02  # what an A/A run moves, as a fraction, unless history measured it
MIN_CHANGE = 0.01  # a metric must move at least this much to be called a change
RESAMPLES = 2000
SEED = 20261207
_Z = 1.959963984540054  # the 97.5% normal quantile
_HL_EFFICIENCY = math.pi / 3  # the HL estimator's variance over the mean's, for normal data
_MAX_NEED = 10_000


class Verdict(Enum):
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    NO_CHANGE = "no change"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Rule:
    """What counts as worse for a metric, and the smallest move that matters."""

    higher_is_better: bool = False
    min_change: float = MIN_CHANGE


# Metric names (by suffix) where more is better; everything else (ns, cycles, bytes, counts) is a cost.
_HIGHER_IS_BETTER = ("per_sec", "per_s", "ops", "iops", "throughput", "bandwidth", "mbps", "hits", "score")


def rule(name: str) -> Rule:
    """The default rule for a metric name: costs go down, rates go up."""
    base = name.lower().split("[", 1)[0]
    return Rule(higher_is_better=base.endswith(_HIGHER_IS_BETTER))


@dataclass(frozen=True)
class Side:
    n: int
    median: float
    mad_pct: float  # median absolute deviation, % of the median


@dataclass(frozen=True)
class Stat:
    """One metric's comparison: B against A."""

    metric: str
    before: Side
    after: Side
    ratio: float  # Hodges-Lehmann B/A (for metrics with values <= 0: 1 + shift / |median of A|)
    low: float  # the 95% interval of the ratio
    high: float
    p: float  # two-sided Mann-Whitney U
    q: float  # Benjamini-Hochberg across the metrics compared together
    verdict: Verdict
    need: int = 0  # inconclusive: about this many runs per side would decide
    exact: bool = False  # deterministic samples, compared exactly

    @property
    def text(self) -> str:
        """The verdict in words: "regression", "inconclusive: need about n=12 per side"."""
        if self.verdict is Verdict.INCONCLUSIVE and self.need:
            return f"inconclusive: need about n={self.need} per side"
        return self.verdict.value


@dataclass(frozen=True)
class Settings:
    band: float | Callable[[str], float | None] = NOISE_BAND  # a fraction, or per metric (None: the default)
    rules: Callable[[str], Rule] = rule
    resamples: int = RESAMPLES
    seed: int = SEED

    def band_of(self, metric: str) -> float:
        found = self.band(metric) if callable(self.band) else self.band
        return NOISE_BAND if found is None else found


def side(values: Sequence[float] | np.ndarray) -> Side:
    import numpy as np

    v = np.asarray(values, dtype=float)
    med = float(np.median(v))
    mad = float(np.median(np.abs(v - med)))
    return Side(len(v), med, 100 * mad / abs(med) if med else 0.0)


def compare(
    samples: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    settings: Settings | None = None,
    deterministic: frozenset[str] = frozenset(),
) -> list[Stat]:
    """A Stat per metric with at least 2 samples on each side (deterministic ones: 1), in name order.

    deterministic: the metrics measured under --accel icount; when every sample
    of each side is equal they are compared exactly.
    """
    import numpy as np
    from scipy import stats as sps

    s = settings or Settings()
    found: list[Stat] = []
    tested: list[tuple[str, np.ndarray, np.ndarray]] = []
    for metric in sorted(samples):
        a, b = (np.sort(np.asarray(x, dtype=float)) for x in samples[metric])
        if metric in deterministic and len(a) and len(b) and a[0] == a[-1] and b[0] == b[-1]:
            found.append(_exact(metric, a, b, s.rules(metric)))
        elif len(a) >= 2 and len(b) >= 2:
            tested.append((metric, a, b))
    ps = [_p(a, b) for _, a, b in tested]
    qs = sps.false_discovery_control(ps, method="bh") if ps else []
    for (metric, a, b), p, q in zip(tested, ps, qs, strict=True):
        d, low, high = _shift(a, b, s.resamples, s.seed)
        found.append(_judge(metric, a, b, d, low, high, p, float(q), s, len(tested)))
    return sorted(found, key=lambda st: st.metric)


def _exact(metric: str, a: np.ndarray, b: np.ndarray, r: Rule) -> Stat:
    """Deterministic samples: any difference of at least the metric's minimum counts (as veristat's 0% threshold)."""
    ratio = _ratio_of(a[0], b[0])
    if a[0] == b[0] or abs(ratio - 1) < r.min_change:
        verdict = Verdict.NO_CHANGE
    else:
        verdict = Verdict.IMPROVEMENT if (b[0] > a[0]) == r.higher_is_better else Verdict.REGRESSION
    return Stat(metric, side(a), side(b), ratio, ratio, ratio, 0.0 if a[0] != b[0] else 1.0, 0.0, verdict, exact=True)


def _ratio_of(a: float, b: float) -> float:
    if a > 0 and b > 0:
        return b / a
    if a:
        return 1 + (b - a) / abs(a)
    return 1.0 if b == a else math.inf


def _p(a: np.ndarray, b: np.ndarray) -> float:
    from scipy import stats as sps

    if a[0] == a[-1] == b[0] == b[-1]:
        return 1.0  # every sample equal: nothing to test (and Mann-Whitney's normal approximation divides by 0)
    return float(sps.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def _scale(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log values when all are positive; else values over |median of A| (unit-free either way)."""
    import numpy as np

    if a.min() > 0 and b.min() > 0:
        return np.log(a), np.log(b)
    unit = abs(float(np.median(a))) or abs(float(np.median(b))) or 1.0
    return a / unit, b / unit


def hodges_lehmann(x: np.ndarray, y: np.ndarray, axis: int = -1) -> Any:
    """The median of all differences y_j - x_i along axis (batched over the leading axes)."""
    import numpy as np

    x, y = np.moveaxis(x, axis, -1), np.moveaxis(y, axis, -1)
    diffs = y[..., None, :] - x[..., :, None]
    return np.median(diffs.reshape(*diffs.shape[:-2], -1), axis=-1)


def intervals(x: np.ndarray, y: np.ndarray, resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-bootstrap 95% intervals of the HL shift, for rows of x (m, nx) against y (m, ny)."""
    import numpy as np
    from scipy import stats as sps

    res = sps.bootstrap(
        (x, y),
        hodges_lehmann,
        n_resamples=resamples,
        method="percentile",
        axis=-1,
        vectorized=True,
        rng=np.random.default_rng(seed),
        batch=max(1, 4_000_000 // max(1, x.shape[0] * x.shape[-1] * y.shape[-1])),
    )
    ci = res.confidence_interval
    return np.asarray(ci.low), np.asarray(ci.high)


def _shift(a: np.ndarray, b: np.ndarray, resamples: int, seed: int) -> tuple[float, float, float]:
    x, y = _scale(a, b)
    d = float(hodges_lehmann(x, y))
    if x[0] == x[-1] and y[0] == y[-1]:
        return d, d, d  # no spread: the bootstrap has nothing to resample
    low, high = intervals(x[None, :], y[None, :], resamples, seed)
    return d, float(low[0]), float(high[0])


def _judge(
    metric: str,
    a: np.ndarray,
    b: np.ndarray,
    d: float,
    low: float,
    high: float,
    p: float,
    q: float,
    s: Settings,
    tests: int,
) -> Stat:
    logged = a.min() > 0 and b.min() > 0
    back: Callable[[float], float] = math.exp if logged else (lambda v: 1 + v)
    r = s.rules(metric)
    band = s.band_of(metric)
    ratio, lo, hi = back(d), back(low), back(high)
    verdict, need = decide(ratio, lo, hi, q, len(a), len(b), band, r, _sigma(a, b), tests)
    return Stat(metric, side(a), side(b), ratio, lo, hi, p, q, verdict, need)


def decide(
    ratio: float,
    low: float,
    high: float,
    q: float,
    na: int,
    nb: int,
    band: float,
    r: Rule,
    sigma: float,
    tests: int = 1,
) -> tuple[Verdict, int]:
    """The verdict (and, when inconclusive, about how many runs per side would decide).

    tests: how many metrics were compared together (Benjamini-Hochberg can
    multiply the smallest p by that many: more runs are needed to clear it).
    """
    possible = min_p(na, nb) < ALPHA
    moved = low > 1 or high < 1
    if possible and q < ALPHA and moved and abs(ratio - 1) >= r.min_change and not 1 - band <= ratio <= 1 + band:
        worse = (ratio > 1) != r.higher_is_better
        return (Verdict.REGRESSION if worse else Verdict.IMPROVEMENT), 0
    inside = max(band, r.min_change)
    if possible and 1 - inside <= low and high <= 1 + inside:
        return Verdict.NO_CHANGE, 0
    return Verdict.INCONCLUSIVE, need(ratio, sigma, inside, min(na, nb), tests)


def min_p(na: int, nb: int) -> float:
    """The smallest two-sided p Mann-Whitney U can give na against nb samples (all of one side above)."""
    return min(1.0, 2 / math.comb(na + nb, na))


def need(ratio: float, sigma: float, band: float, have: int, tests: int = 1) -> int:
    """Runs per side for a 95% interval narrow enough to fall inside the band, or to exclude 1.

    With sigma the spread of one sample's log value, the HL shift's interval is
    about +-1.96 sigma sqrt(2 (pi/3) / n) wide: that must be at most the band
    when nothing moved, and at most the move when something did. Never fewer
    than the runs whose smallest p survives Benjamini-Hochberg over `tests` metrics.
    """
    smallest = next(n for n in range(2, 100) if min_p(n, n) * tests < ALPHA)
    moved = abs(math.log(ratio)) if ratio > 0 else 0.0
    room = max(band, moved)
    if sigma <= 0:
        return max(smallest, have + 1)
    n = math.ceil(2 * _HL_EFFICIENCY * (_Z * sigma / room) ** 2)
    return min(_MAX_NEED, max(smallest, have + 1, n))


def _sigma(a: np.ndarray, b: np.ndarray) -> float:
    """One sample's spread: the pooled MAD of the (log) values, scaled to a normal's sigma."""
    import numpy as np

    x, y = _scale(a, b)
    dev = np.concatenate([x - np.median(x), y - np.median(y)])
    return 1.4826 * float(np.median(np.abs(dev)))


def simulate(
    n: int, shift: float, trials: int = 2000, sigma: float = 0.05, seed: int = 1, resamples: int = 200
) -> dict[Verdict, int]:
    """Verdicts on seeded lognormal samples (n a side, B = A * (1 + shift)), all trials at once.

    The verdict is decide()'s, on the same test, estimate and bootstrap as
    compare(); only the resamples are fewer by default (200: the interval's
    ends move by a few tenths of a percent; bench/stats_power.py runs 2,000).
    """
    import numpy as np
    from scipy import stats as sps

    rng = np.random.default_rng(seed)
    a = np.sort(rng.lognormal(0.0, sigma, (trials, n)), axis=-1)
    b = np.sort(rng.lognormal(math.log1p(shift), sigma, (trials, n)), axis=-1)
    x, y = np.log(a), np.log(b)
    ps = sps.mannwhitneyu(x, y, alternative="two-sided", axis=-1).pvalue
    d = hodges_lehmann(x, y)
    low, high = intervals(x, y, resamples, seed)
    counts = dict.fromkeys(Verdict, 0)
    for i in range(trials):
        v, _ = decide(
            math.exp(d[i]), math.exp(low[i]), math.exp(high[i]), ps[i], n, n, NOISE_BAND, Rule(), _sigma(a[i], b[i])
        )
        counts[v] += 1
    return counts
