"""zpfarm report html: one static page, read back by html.parser and opened in a real browser."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cli import app
from farm.model.results import Status, TestResult
from farm.report import html, junit
from farm.report.past import Past, Point

runner = CliRunner()
FAILING = "memory.read_hole[memfd,shared]"
METRIC_TEST = "faultbench.read_ns_per_page[memfd]"
CELLS = ("x86_64-thp-on", "arm64-thp-off")
RUNTIMES = ("default", "shmem-always")


def _runs(tmp_path: Path, count: int = 5, console: str | None = None) -> list[Path]:
    """count runs: 2 cells x 2 runtimes, base and series; the series fails FAILING on x86_64 and is 30% slower."""
    rng = np.random.default_rng(4)
    paths = []
    for i in range(count):
        where = tmp_path / f"run-{i}"
        where.mkdir()
        lines = [f"[ {n}.0] boot line {n}\n" for n in range(300)]
        lines[200] = "BUG: oops\n"
        (where / "console.log").write_text("".join(lines))
        suites = []
        for kernel in ("base", "series"):
            for cell in CELLS:
                for runtime in RUNTIMES:
                    fails = kernel == "series" and cell == "x86_64-thp-on"
                    ktap = "not ok 3 read_hole # UFFDIO_COPY error: -2\n# metric: shmem_delta_kb=64"
                    value = 500 * (1.3 if kernel == "series" else 1.0) * rng.lognormal(0, 0.03)
                    cases = (
                        TestResult(FAILING, Status.FAIL if fails else Status.PASS, "read_hole failed", ktap),
                        TestResult(METRIC_TEST, Status.PASS, "", f"# metric: ns_per_page={value:.1f}"),
                        TestResult("coherence.rfc[memfd,shared]", Status.SKIP, "no THP"),
                    )
                    log = console if console is not None else str(where / "console.log")
                    props = {"accel": "tcg", "log": log}
                    suites.append(junit.Suite(f"{kernel}-{cell}/{runtime}", cases, props, log, datetime.now(UTC), 1.0))
        junit.write(where / "junit.xml", suites)
        paths.append(where / "junit.xml")
    return paths


class FakeHistory:
    """The history as farm.report.past.History describes it: 30 runs of each test, one flaky."""

    def outcomes(self, suite: str, test: str, last: int) -> Sequence[Past]:
        pattern = "PFPPFPPPFP" * 3
        return [Past(f"run {i}", Status.PASS if c == "P" else Status.FAIL, "v3") for i, c in enumerate(pattern)][-last:]

    def flaky(self, last: int) -> Sequence[tuple[str, str]]:
        return [("base-arm64-thp-off/default", "coherence.sometimes")]

    def trend(self, suite: str, test: str, metric: str, last: int) -> Sequence[Point]:
        return [Point(f"run {i}", 500.0 + i, 490.0 + i, 510.0 + i) for i in range(12)]

    def noise_band(self, metric: str) -> float | None:
        return 0.05


class Page(HTMLParser):
    """What a test looks for: tags, attributes, and the text inside each <details> and <td>."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.details: list[str] = []
        self.cells: list[tuple[dict[str, str | None], str]] = []
        self._open: list[tuple[str, dict[str, str | None], list[str]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("details", "td"):
            self._open.append((tag, dict(attrs), []))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("details", "td") and self._open and self._open[-1][0] == tag:
            _, attrs, text = self._open.pop()
            if tag == "details":
                self.details.append("".join(text))
            else:
                self.cells.append((attrs, "".join(text)))

    def handle_data(self, data: str) -> None:
        for _, _, text in self._open:
            text.append(data)


def test_the_page_has_the_matrix_base_and_series_side_by_side(tmp_path: Path) -> None:
    page = Page(html.render(html.page(_runs(tmp_path))))
    matrix = {(a["data-cell"], a["data-runtime"], a["data-kernel"]): t for a, t in page.cells if "data-cell" in a}
    assert len(matrix) == len(CELLS) * len(RUNTIMES) * 2
    assert matrix["x86_64-thp-on", "default", "series"] == "5 fail, 5 skip, 5 pass"
    assert matrix["x86_64-thp-on", "default", "base"] == "5 skip, 10 pass"
    classes = {a.get("class") for a, _ in page.cells if a.get("data-kernel") == "series" and "x86_64" in str(a)}
    assert classes == {"fail"}


def test_each_failure_shows_its_ktap_and_the_console_tail_in_details(tmp_path: Path) -> None:
    text = html.render(html.page(_runs(tmp_path)))
    page = Page(text)
    assert any("not ok 3 read_hole # UFFDIO_COPY error: -2" in d for d in page.details)
    console = next(d for d in page.details if "BUG: oops" in d)
    assert "boot line 190" in console and "boot line 189" not in console  # from 10 lines before the report
    assert "read_hole failed (5 of 5 runs)" in text


def test_the_page_needs_no_script_and_no_network(tmp_path: Path) -> None:
    page = Page(html.render(html.page(_runs(tmp_path), FakeHistory())))
    assert "script" not in {tag for tag, _ in page.tags}
    links = [v for _, attrs in page.tags for k, v in attrs.items() if k in ("src", "href") and v]
    assert not links
    assert not [a for _, attrs in page.tags for a in attrs if a.startswith("on")]


def test_metrics_with_several_runs_get_a_verdict_and_an_interval(tmp_path: Path) -> None:
    built = html.page(_runs(tmp_path))
    judged = {m.name: m for m in built.metrics}
    name = f"x86_64-thp-on/default: {METRIC_TEST}: ns_per_page"
    assert judged[name].stat is not None and judged[name].stat.text == "regression"
    assert 'class="interval"' in judged[name].interval_svg
    assert {m.name.rsplit(": ", 1)[1] for m in built.metrics} == {"ns_per_page", "shmem_delta_kb"}


def test_one_run_shows_values_without_statistics(tmp_path: Path) -> None:
    built = html.page(_runs(tmp_path, 1))
    assert not built.metrics and built.once
    page = Page(html.render(built))
    assert any("metrics measured in one run a side" in d for d in page.details)


def test_with_history_each_failing_or_flaky_test_has_a_strip_of_its_last_30_runs(tmp_path: Path) -> None:
    built = html.page(_runs(tmp_path), FakeHistory())
    strips = {(s.suite, s.test): s for s in built.strips}
    assert ("base-arm64-thp-off/default", "coherence.sometimes") in strips  # flaky by the history
    assert ("series-x86_64-thp-on/default", FAILING) in strips  # failing here
    strip = strips["series-x86_64-thp-on/default", FAILING]
    assert strip.svg.count("<rect") == 30 and strip.summary == "9 of 30 runs failed"
    assert all(m.trend_svg.count("<polyline") == 2 for m in built.metrics)  # base and series trends
    judged = {m.name: m for m in built.metrics}
    assert "noise band +-5.0%" in judged[f"x86_64-thp-on/default: {METRIC_TEST}: ns_per_page"].interval_svg


def test_without_history_the_strip_comes_from_the_files_given(tmp_path: Path) -> None:
    (strip,) = [s for s in html.page(_runs(tmp_path, 3)).strips if s.test == FAILING and "default" in s.suite]
    assert strip.svg.count("<rect") == 3 and strip.source == "these files"


def test_a_console_log_named_outside_the_junit_directory_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.log"
    secret.write_text("BUG: do not show me\n")
    page = html.render(html.page(_runs(tmp_path, 1, console=str(secret))))
    assert "do not show me" not in page
    assert "not beside this JUnit file" in page


def test_names_with_markup_are_escaped(tmp_path: Path) -> None:
    path = tmp_path / "j.xml"
    case = TestResult("x<script>alert(1)</script>", Status.FAIL, "<b>bold</b>", "<img src=x>")
    junit.write(path, [junit.Suite("series-x86_64/default", (case,), {}, "", datetime.now(UTC), 1.0)])
    page = Page(html.render(html.page([path])))
    assert "script" not in {tag for tag, _ in page.tags}
    assert "img" not in {tag for tag, _ in page.tags}


def test_report_html_writes_the_page_and_says_where(tmp_path: Path) -> None:
    paths = _runs(tmp_path, 2)
    out = tmp_path / "out" / "report.html"
    result = runner.invoke(app, ["report", "html", str(tmp_path / "run-*" / "junit.xml"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert "From 2 JUnit files" in out.read_text()
    bad = runner.invoke(app, ["report", "html", str(paths[0]), "-o", str(out), "--history", str(tmp_path / "h.db")])
    assert bad.exit_code == 2 and "h.db: no such file" in bad.output  # a history is read, never made here


CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium; install.sh does)")
def test_the_page_in_a_real_browser_opens_details_without_script_and_fetches_nothing(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -r requirements.lock)")
    out = tmp_path / "report.html"
    out.write_text(html.render(html.page(_runs(tmp_path, 5), FakeHistory())))
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(java_script_enabled=False, viewport={"width": 1400, "height": 900})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(out.as_uri())
        assert requests == [out.as_uri()]  # nothing else: no font, no script, no image
        assert page.locator("table.matrix td[data-kernel]").count() == 8
        assert page.locator("svg.strip").first.bounding_box()["width"] > 300  # 30 squares drawn
        ktap = page.locator("pre.ktap").first
        assert not ktap.is_visible()
        page.locator("details summary", has_text="KTAP").first.click()
        assert ktap.is_visible() and "UFFDIO_COPY" in ktap.inner_text()
        browser.close()
