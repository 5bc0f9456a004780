"""zpfarm compare over several runs a side: statuses pooled, metrics judged by statistics."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli import app
from farm.commands.common import spread
from farm.model.results import Status, TestResult
from farm.report import junit, pooled, stats

runner = CliRunner()
TEST = "faultbench.read_ns_per_page[memfd]"


def _run(path: Path, values: dict[str, float], status: Status = Status.PASS, accel: str = "tcg") -> Path:
    """One run's JUnit: a base and/or series suite, each with one metric-carrying case."""
    now = datetime.now(UTC)
    suites = [
        junit.Suite(
            f"{kernel}-x86_64-thp-off/default",
            (TestResult(TEST, status if kernel == "series" else Status.PASS, "", f"# metric: ns_per_page={value}"),),
            {"accel": accel},
            "",
            now,
            1.0,
        )
        for kernel, value in values.items()
    ]
    junit.write(path, suites)
    return path


def _runs(tmp_path: Path, prefix: str, n: int, scale: float, seed: int, noise: float = 0.05) -> list[Path]:
    rng = np.random.default_rng(seed)
    return [_run(tmp_path / f"{prefix}{i}.xml", {"series": 500 * scale * rng.lognormal(0, noise)}) for i in range(n)]


def test_ten_runs_a_side_of_a_30_percent_slowdown_are_a_regression_with_exit_1(tmp_path: Path) -> None:
    a, b = _runs(tmp_path, "a", 10, 1.0, 1), _runs(tmp_path, "b", 10, 1.3, 2)
    result = runner.invoke(app, ["compare", *map(str, a), "--vs", *map(str, b), "--format", "md"])
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("No test changed between a0.xml +9 and b0.xml +9.\n")
    row = next(line for line in result.stdout.splitlines() if TEST in line)
    assert "| 10/10 |" in row and row.endswith("| regression |"), row


def test_quoted_globs_name_each_side(tmp_path: Path) -> None:
    _runs(tmp_path, "a", 10, 1.0, 1, 0.01), _runs(tmp_path, "b", 10, 1.0, 2, 0.01)  # 1% noise, nothing moved
    args = ["compare", str(tmp_path / "a*.xml"), "--vs", str(tmp_path / "b*.xml"), "--format", "md"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if TEST in line)
    assert "| 10/10 |" in row and row.endswith("| no change |"), row


def test_three_runs_a_side_are_inconclusive_whatever_moved(tmp_path: Path) -> None:
    a, b = _runs(tmp_path, "a", 3, 1.0, 1), _runs(tmp_path, "b", 3, 1.5, 2)
    result = runner.invoke(app, ["compare", *map(str, a), "--vs", *map(str, b), "--format", "md"])
    assert result.exit_code == 0, result.output
    assert "inconclusive: need about n=4 per side" in result.stdout
    assert "| regression |" not in result.stdout


def test_kernels_pools_each_runs_base_against_its_series(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    paths = [
        _run(tmp_path / f"r{i}.xml", {"base": 500 * rng.lognormal(0, 0.05), "series": 250 * rng.lognormal(0, 0.05)})
        for i in range(8)
    ]
    found = pooled.compared([str(p) for p in paths], [], True, stats.Settings())
    (judged,) = found.metrics
    assert (found.before, found.after) == ("base", "series")
    assert judged.metric == f"x86_64-thp-off/default: {TEST}: ns_per_page"
    assert judged.verdict is stats.Verdict.IMPROVEMENT and 0.4 < judged.ratio < 0.6


def test_icount_numbers_are_compared_exactly_from_one_run_a_side(tmp_path: Path) -> None:
    a = _run(tmp_path / "a.xml", {"series": 1000}, accel="icount")
    b = _run(tmp_path / "b.xml", {"series": 1012}, accel="icount")
    result = runner.invoke(app, ["compare", str(a), str(b), "--format", "md"])
    assert result.exit_code == 1, result.output
    assert "1.012 exact" in result.stdout and "| regression |" in result.stdout
    tcg = runner.invoke(app, ["compare", str(_run(tmp_path / "c.xml", {"series": 1000})), str(b)])
    assert tcg.exit_code == 0 and "regression" not in tcg.output  # one run under TCG: noise, never a verdict


def test_a_test_failing_in_some_runs_of_a_side_only_is_no_regression(tmp_path: Path) -> None:
    a = [_run(tmp_path / f"a{i}.xml", {"series": 500}) for i in range(3)]
    b = [_run(tmp_path / f"b{i}.xml", {"series": 500}, Status.FAIL if i == 1 else Status.PASS) for i in range(3)]
    flaky = pooled.compared([str(p) for p in a], [str(p) for p in b], False, stats.Settings())
    assert not flaky.changes
    c = [_run(tmp_path / f"c{i}.xml", {"series": 500}, Status.FAIL) for i in range(3)]
    broken = pooled.compared([str(p) for p in a], [str(p) for p in c], False, stats.Settings())
    assert [ch.kind.value for ch in broken.changes] == ["regression"]


def test_three_files_without_a_side_are_bad_input(tmp_path: Path) -> None:
    paths = [str(p) for p in _runs(tmp_path, "a", 3, 1.0, 1)]
    result = runner.invoke(app, ["compare", *paths])
    assert result.exit_code == 2
    assert "--vs" in result.output and "--kernels" in result.output
    assert runner.invoke(app, ["compare", str(tmp_path / "none*.xml"), "--vs", paths[0]]).exit_code == 2


def test_vs_takes_every_word_up_to_the_next_option() -> None:
    assert spread("--vs", ["a", "--vs", "b", "c", "--format", "md", "d"]) == [
        "a", "--vs", "b", "--vs", "c", "--format", "md", "d",
    ]  # fmt: skip
    assert spread("--vs", ["a", "--vs", "b", "--", "c"]) == ["a", "--vs", "b", "--", "c"]


def test_the_metrics_table_puts_regressions_first_and_fits_a_comment() -> None:
    same = [100 + i / 10 for i in range(-8, 8)]  # 16 runs a side: the slowdown clears 31 metrics' correction
    samples = {f"m{i:03}": (same, same) for i in range(30)} | {"zz slow": (same, [v * 1.5 for v in same])}
    text = pooled.markdown(stats.compare(samples), limit=2000)
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows[0].startswith("| `zz slow`") and rows[0].endswith("| regression |")
    assert len(text) <= 2200 and "more metrics not shown (" in text and "no change" in text.splitlines()[-1]


def test_many_metrics_need_more_runs_to_clear_benjamini_hochberg() -> None:
    same = [100.0, 101.0, 99.0, 100.5, 99.5, 100.2]
    samples = {f"m{i:03}": (same, same) for i in range(100)} | {"zz slow": (same, [v * 1.5 for v in same])}
    slow = next(s for s in stats.compare(samples) if s.metric == "zz slow")
    assert slow.p == pytest.approx(2 / 924) and slow.q == pytest.approx(101 * 2 / 924)  # 6 runs a side, 101 metrics
    assert slow.text == "inconclusive: need about n=8 per side"  # 2 / C(16, 8) * 101 < 0.05


def _history_aa(path: Path, values: list[float], build_key: str = "k1") -> Path:
    """A run history holding one run per value of the series suite's metric, all one kernel (an A/A)."""
    from farm.report.history import History, RunMeta

    with History.open(path) as history:
        for i, value in enumerate(values):
            case = TestResult(TEST, Status.PASS, metrics={"ns_per_page": value})
            when = datetime(2026, 12, 1, i, tzinfo=UTC)
            suite = junit.Suite("series-x86_64-thp-off/default", (case,), {"build_key": build_key}, "", when, 1.0)
            history.record([suite], RunMeta("run"))
    return path


def test_the_history_s_last_a_a_is_the_noise_band_unless_band_is_given(tmp_path: Path) -> None:
    a, b = _runs(tmp_path, "a", 10, 1.0, 1, 0.005), _runs(tmp_path, "b", 10, 1.04, 2, 0.005)  # +4%, 0.5% noise
    sides = ["compare", *map(str, a), "--vs", *map(str, b), "--format", "md"]
    plain = runner.invoke(app, sides)
    assert plain.exit_code == 1 and "| regression |" in plain.stdout, plain.output
    history = _history_aa(tmp_path / "h.sqlite", [500.0, 530.0])  # the same kernel moved 6% between runs
    wide = runner.invoke(app, [*sides, "--history", str(history)])
    assert wide.exit_code == 0, wide.output
    row = next(line for line in wide.stdout.splitlines() if TEST in line)
    assert row.endswith("| no change (band ±6.0% (A/A in history: series-x86_64-thp-off/default, runs 1, 2)) |"), row
    table = runner.invoke(app, [*sides[:-2], "--history", str(history)], env={"COLUMNS": "300"})
    assert "no change" in table.stdout and "band ±6.0% (A/A in history" in table.stdout
    given = runner.invoke(app, [*sides, "--history", str(history), "--band", "0.02"])
    assert given.exit_code == 1 and "| regression |" in given.stdout and "A/A" not in given.stdout


def test_a_history_without_an_a_a_leaves_the_default_band(tmp_path: Path) -> None:
    a, b = _runs(tmp_path, "a", 10, 1.0, 1, 0.005), _runs(tmp_path, "b", 10, 1.04, 2, 0.005)
    history = _history_aa(tmp_path / "h.sqlite", [500.0])  # measured once: no A/A
    done = runner.invoke(app, ["compare", *map(str, a), "--vs", *map(str, b), "--history", str(history)])
    assert done.exit_code == 1 and "regression" in done.stdout and "A/A" not in done.stdout
    missing = runner.invoke(app, ["compare", *map(str, a), "--vs", *map(str, b), "--history", str(tmp_path / "no")])
    assert missing.exit_code == 2 and "no such file" in missing.output
