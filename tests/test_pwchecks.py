"""Patchwork checks: every payload validates against patchwork's CheckCreate; a patch fails only when
build-each or bisect blames it, the others of a cell with a problem get a warning (NIPA's lesson)."""

from __future__ import annotations

import json
from pathlib import Path

import runs
from typer.testing import CliRunner

from cli import app
from farm.model.results import Status, Suite, TestResult
from farm.report import findings, pwchecks, schemas

runner = CliRunner()
CELL = "series-x86_64-thp-on"


def build_each(failing: int) -> Suite:
    """build-each's suite of CELL: patch `failing` does not build."""
    cases = [TestResult("base v7.3", Status.PASS)] + [
        TestResult(
            f"{n:04d} {p.subject}",
            Status.BUILD if n == failing else Status.PASS,
            "make exited 2" if n == failing else "",
        )
        for n, p in enumerate(runs.series_info().patches, 1)
    ]
    return Suite(f"build-each/{CELL}", tuple(cases), {"arch": "x86_64"}, "", runs.WHEN, 1.0)


def states(items: list[dict[str, object]], context: str) -> list[str]:
    return [i["check"]["state"] for i in items if i["check"]["context"] == context]  # type: ignore[index]


def test_every_payload_validates_and_the_schema_has_teeth() -> None:
    items = pwchecks.payloads(findings.find(runs.every_outcome()), runs.series_info())
    assert items and all(schemas.errors(schemas.CHECK_CREATE, i["check"]) == [] for i in items)
    properties = json.loads(schemas.CHECK_CREATE.read_text())["properties"]
    assert all(set(i["check"]) <= set(properties) for i in items)
    assert schemas.errors(schemas.CHECK_CREATE, {"state": "error", "context": "zpfarm series/x86_64"})
    assert schemas.errors(schemas.CHECK_CREATE, {"state": "fail", "context": "x", "target_url": "not a url"})


def test_without_a_blame_no_patch_fails() -> None:
    items = pwchecks.payloads(findings.find(runs.every_outcome()), runs.series_info())
    n = len(runs.series_info().patches)
    assert states(items, f"zpfarm-{CELL}") == ["warning"] * n
    assert states(items, "zpfarm-series-arm64-thp-on") == ["warning"] * n


def test_the_patch_build_each_blames_fails_and_only_it() -> None:
    found = findings.find([*runs.every_outcome(), build_each(7)])
    items = pwchecks.payloads(found, runs.series_info())
    n = len(runs.series_info().patches)
    assert states(items, f"zpfarm-{CELL}") == ["warning"] * 6 + ["fail"] + ["warning"] * (n - 7)
    assert states(items, f"zpfarm-build-each-{CELL}") == ["success"] * 6 + ["fail"] + ["success"] * (n - 7)
    assert states(items, "zpfarm-series-arm64-thp-on") == ["warning"] * n  # build-each spoke of x86_64 only


def test_the_patch_bisect_blames_fails_and_a_clean_cell_succeeds() -> None:
    log = (
        "Bisecting: 0 revisions left to test after this (roughly 0 steps)\n"
        "0123456789abcdef0123456789abcdef01234567 is the first bad commit\n"
        "commit 0123456789abcdef0123456789abcdef01234567\nAuthor: A <a@example.org>\nDate:   Mon Dec 7 2026\n\n"
        "    shmem: map the shared zeropage on read faults of holes\n\n    More text.\n"
    )
    blame = findings.from_bisect_log(log)
    assert blame is not None and blame.subject == "shmem: map the shared zeropage on read faults of holes"
    items = pwchecks.payloads(findings.find(runs.every_outcome()[:2], [blame]), runs.series_info())
    assert states(items, f"zpfarm-{CELL}")[8] == "fail"
    assert states(items, f"zpfarm-{CELL}").count("fail") == 1
    clean = pwchecks.payloads(findings.find(runs.clean()), runs.series_info())
    assert states(clean, f"zpfarm-{CELL}") == ["success"] * len(runs.series_info().patches)


def test_the_command_writes_the_payloads(tmp_path: Path) -> None:
    junit = runs.write(tmp_path / "junit.xml", runs.every_outcome())
    each = runs.write(tmp_path / "each.xml", [build_each(3)])
    series = tmp_path / "series.json"
    series.write_text(runs.series_info().dump())
    out = tmp_path / "checks.json"
    args = ["export", "pw-checks", str(junit), "--series", str(series), "--build-each", str(each), "-o", str(out)]
    result = runner.invoke(app, [*args, "--url", "https://ci.example.org/run/1"])
    assert result.exit_code == 0, result.output
    items = json.loads(out.read_text())
    assert {i["check"]["target_url"] for i in items} == {"https://ci.example.org/run/1"}
    assert [i["patch"]["message_id"] for i in items if i["check"]["state"] == "fail"] == [
        "v6.12-3@zpfarm.example.org"
    ] * 2
    result = runner.invoke(app, ["export", "pw-checks", str(junit), "-o", str(out)])
    assert result.exit_code == 2 and "--series" in result.output
