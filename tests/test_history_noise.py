"""The noise band of a metric from the last A/A in the run history (farm.report.history.noise), real SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from farm.model.results import Status, Suite, TestResult
from farm.report.history import History, RunMeta, noise
from farm.report.history.past_view import PastView

TEST = "faultbench.read_ns_per_page[memfd]"
SUITE = "series-x86_64-thp-off/default"
METRIC = f"{SUITE}: {TEST}: ns_per_page"


def _history(path: Path, runs: list[tuple[str, float]], suite: str = SUITE, accel: str = "tcg") -> History:
    """One run per (build key, value) of suite's metric, in order."""
    history = History.open(path)
    for i, (key, value) in enumerate(runs):
        case = TestResult(TEST, Status.PASS, metrics={"ns_per_page": value})
        props = {"build_key": key, "accel": accel}
        history.record([Suite(suite, (case,), props, "", datetime(2026, 12, 1, i, tzinfo=UTC), 1.0)], RunMeta("run"))
    return history


def test_two_runs_of_one_kernel_are_an_a_a_and_its_band_is_what_the_value_moved(tmp_path: Path) -> None:
    with _history(tmp_path / "h.sqlite", [("k1", 500.0), ("k1", 530.0)]) as history:
        band = noise.last_aa(history, METRIC)
        assert band is not None and band.value == pytest.approx(0.06) and band.runs == (1, 2)
        assert str(band) == f"±6.0% (A/A in history: {SUITE}, runs 1, 2)"
        assert PastView(history).noise_band(METRIC) == pytest.approx(0.06)  # report html's too


def test_runs_of_different_kernels_are_no_a_a(tmp_path: Path) -> None:
    with _history(tmp_path / "h.sqlite", [("k1", 500.0), ("k2", 530.0), ("", 700.0), ("", 500.0)]) as history:
        assert noise.last_aa(history, METRIC) is None
        assert PastView(history).noise_band(METRIC) is None


def test_the_kernel_measured_twice_most_recently_is_the_last_a_a_its_halves_compared(tmp_path: Path) -> None:
    runs = [("k1", 500.0), ("k1", 530.0), ("k2", 100.0), ("k2", 102.0), ("k2", 110.0), ("k2", 112.0), ("k3", 9.0)]
    with _history(tmp_path / "h.sqlite", runs) as history:
        band = noise.last_aa(history, METRIC)
        assert band is not None and band.runs == (3, 4, 5, 6)
        assert band.value == pytest.approx(111 / 101 - 1)  # medians of runs 5-6 over runs 3-4
        assert noise.last_aa(history, METRIC, runs=2) == noise.Band(pytest.approx(112 / 110 - 1), SUITE, (5, 6))


def test_a_pair_s_metric_finds_the_a_a_of_either_kernel_and_an_odd_label_none(tmp_path: Path) -> None:
    with _history(tmp_path / "h.sqlite", [("k1", 500.0), ("k1", 530.0)], suite="base-x86_64-thp-off/default") as h:
        pair = noise.last_aa(h, f"x86_64-thp-off/default: {TEST}: ns_per_page")
        assert pair is not None and pair.suite == "base-x86_64-thp-off/default"
        assert noise.last_aa(h, METRIC) is None  # the series suite: never measured
        assert noise.last_aa(h, "not a metric label") is None
        assert noise.last_aa(h, f"x86_64-thp-*/default: {TEST}: ns_per_page") is None  # names, not globs


def test_bands_refuse_a_missing_history_and_answer_per_metric(tmp_path: Path) -> None:
    from farm.model.errors import UserError

    with pytest.raises(UserError, match="no such file"):
        noise.Bands.at(tmp_path / "missing.sqlite")
    _history(tmp_path / "h.sqlite", [("k1", 500.0), ("k1", 530.0)]).close()
    bands = noise.Bands.at(tmp_path / "h.sqlite")
    assert bands.band(METRIC) == pytest.approx(0.06) and bands.band(f"{SUITE}: other: x") is None
