"""Statistics for metrics: seeded simulations of the verdict, and its invariances."""

from __future__ import annotations

import numpy as np
import pytest

from farm.report import stats
from farm.report.stats import Settings, Verdict

TRIALS = 2000  # each simulation: lognormal samples, 5% noise, seeded


def test_an_a_a_pair_at_ten_runs_a_side_is_flagged_at_most_5_percent_of_the_time() -> None:
    found = stats.simulate(10, 0.0, TRIALS)
    flagged = found[Verdict.REGRESSION] + found[Verdict.IMPROVEMENT]
    assert flagged <= 0.05 * TRIALS, found


def test_an_8_percent_slowdown_at_ten_runs_a_side_is_found_at_least_80_percent_of_the_time() -> None:
    found = stats.simulate(10, 0.08, TRIALS)
    assert found[Verdict.REGRESSION] >= 0.80 * TRIALS, found
    assert found[Verdict.IMPROVEMENT] == 0


@pytest.mark.parametrize("shift", [0.0, 0.08, 0.5])
def test_three_runs_a_side_are_always_inconclusive(shift: float) -> None:
    assert stats.simulate(3, shift, TRIALS)[Verdict.INCONCLUSIVE] == TRIALS


def _samples(rng: np.random.Generator, count: int) -> dict[str, tuple[list[float], list[float]]]:
    """count metrics, 8 runs a side, shifts from -15% to +15%: every verdict occurs."""
    shifts = np.linspace(-0.15, 0.15, count)
    return {
        f"m{i:03}": (list(rng.lognormal(0, 0.05, 8) * 1000), list(rng.lognormal(np.log1p(s), 0.05, 8) * 1000))
        for i, s in enumerate(shifts)
    }


def test_scaling_a_metric_or_reordering_its_samples_keeps_its_verdict() -> None:
    rng = np.random.default_rng(5)
    samples = _samples(rng, 60)
    plain = {s.metric: s.text for s in stats.compare(samples)}
    assert {Verdict.REGRESSION.value, Verdict.IMPROVEMENT.value} <= set(plain.values())
    assert any(v.startswith("inconclusive: need about n=") for v in plain.values())
    scaled = {k: ([v * 3.7e-6 for v in a], [v * 3.7e-6 for v in b]) for k, (a, b) in samples.items()}
    shuffled = {k: (list(rng.permutation(a)), list(rng.permutation(b))) for k, (a, b) in samples.items()}
    assert {s.metric: s.text for s in stats.compare(scaled)} == plain
    assert {s.metric: s.text for s in stats.compare(shuffled)} == plain


def test_a_comparison_reports_medians_spread_and_an_interval_around_the_ratio() -> None:
    before = [100.0, 102.0, 98.0, 101.0, 99.0, 100.0, 103.0, 97.0, 100.0, 101.0]
    after = [v * 1.3 for v in before]
    (found,) = stats.compare({"fill_ns_per_page": (before, after)})
    assert (found.before.n, found.after.n) == (10, 10)
    assert found.before.median == 100.0
    assert found.before.mad_pct == pytest.approx(1.0)
    assert found.ratio == pytest.approx(1.3)
    assert found.low <= 1.3 <= found.high and found.low > 1.2
    assert found.p < 0.001 and found.verdict is Verdict.REGRESSION


def test_a_rate_that_goes_up_is_an_improvement() -> None:
    before = [100.0, 102.0, 98.0, 101.0, 99.0, 100.0]
    (found,) = stats.compare({"ops_per_sec": (before, [v * 1.3 for v in before])})
    assert found.verdict is Verdict.IMPROVEMENT


def test_benjamini_hochberg_raises_the_p_values_of_many_metrics() -> None:
    rng = np.random.default_rng(9)
    found = stats.compare(_samples(rng, 20))
    assert all(s.q >= s.p for s in found)
    assert any(s.q > s.p for s in found)


def test_a_wide_noise_band_from_history_turns_a_small_move_into_no_regression() -> None:
    before = [100.0, 100.5, 99.5, 100.2, 99.8, 100.1, 99.9, 100.0]
    after = [v * 1.05 for v in before]
    (default,) = stats.compare({"t": (before, after)})
    (wide,) = stats.compare({"t": (before, after)}, Settings(band=lambda metric: 0.10))
    assert default.verdict is Verdict.REGRESSION
    assert wide.verdict is not Verdict.REGRESSION


def test_identical_runs_are_no_change() -> None:
    before = [100.0, 100.5, 99.5, 100.2, 99.8, 100.1, 99.9, 100.0]
    (found,) = stats.compare({"t": (before, list(before))})
    assert found.verdict is Verdict.NO_CHANGE


def test_deterministic_metrics_are_compared_exactly_even_once_a_side() -> None:
    found = stats.compare(
        {
            "insns": ([1000.0], [1012.0]),
            "jitter": ([1000.0], [1003.0]),
            "same": ([5.0, 5.0], [5.0]),
            "noisy": ([1.0], [2.0]),
        },
        deterministic=frozenset({"insns", "jitter", "same"}),
    )
    assert [(s.metric, s.verdict, s.exact) for s in found] == [
        ("insns", Verdict.REGRESSION, True),
        ("jitter", Verdict.NO_CHANGE, True),  # under the 1% minimum
        ("same", Verdict.NO_CHANGE, True),
    ]


def test_metrics_with_zero_or_negative_values_are_compared_without_logs() -> None:
    before = [0.0, 1.0, -1.0, 0.5, 0.0, -0.5, 0.2, 0.1]
    (found,) = stats.compare({"delta": (before, [v + 10 for v in before])})
    assert found.verdict is Verdict.REGRESSION


def test_inconclusive_says_how_many_runs_would_decide() -> None:
    assert stats.need(1.0, 0.05, 0.02, 10) == pytest.approx(51, abs=2)
    assert stats.need(1.3, 0.05, 0.02, 3) == 4  # the fewest Mann-Whitney can ever call significant
