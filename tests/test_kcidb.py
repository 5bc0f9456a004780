"""The KCIDB export: a run with every outcome validates against the vendored v5.3 schema (formats
checked), maps each status as the reference table says, merges on resubmission (kci-dev's ids),
is byte-identical for the same input, and its worst status gives back the run's exit code."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import runs
from typer.testing import CliRunner

from cli import app, exit_code
from farm.model.errors import UserError
from farm.model.results import Report
from farm.report import junit, kcidb, schemas

runner = CliRunner()


def export(tmp_path: Path, suites: list[Any], name: str = "report.json") -> dict[str, Any]:
    written = runs.write(tmp_path / "junit.xml", suites)
    doc = kcidb.document(junit.read_suites(written), kcidb.Source("zpfarm"), runs.series_info(), runs.KNOWN)
    assert schemas.errors(schemas.KCIDB, doc) == []
    return doc


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{t['misc']['suite']}:{t['misc']['name']}": t for t in doc["tests"]}


def test_the_validator_checks_formats_so_a_start_time_of_yesterday_is_refused(tmp_path: Path) -> None:
    doc = export(tmp_path, runs.every_outcome())
    assert schemas.formats()
    bad = copy.deepcopy(doc)
    bad["tests"][0]["start_time"] = "yesterday"
    assert any("start_time" in e and "date-time" in e for e in schemas.errors(schemas.KCIDB, bad))
    bad["tests"][0]["start_time"] = doc["tests"][0]["start_time"]
    bad["checkouts"][0]["git_repository_url"] = "https://exa mple.org/linux"
    assert schemas.errors(schemas.KCIDB, bad)
    with pytest.raises(UserError, match=r"does not validate against kcidb/v5\.3\.json"):
        schemas.check(schemas.KCIDB, bad, "the KCIDB submission")


def test_a_run_with_every_outcome_exports_each_status_as_the_table_says(tmp_path: Path) -> None:
    doc = export(tmp_path, runs.every_outcome())
    tests = by_name(doc)
    series = "series-x86_64-thp-on/default"
    assert tests[f"{series}:coherence.read_then_write[memfd,private]"]["status"] == "PASS"
    assert tests[f"{series}:zeropage.read_hole_maps_zero_pfn[tmpfs,shared]"]["status"] == "FAIL"
    assert tests[f"{series}:zeropage.console"]["status"] == "FAIL"
    assert tests[f"{series}:selftests-mm-cow.Basic COW after fork() with base page"]["status"] == "SKIP"
    assert tests["series-x86_64-thp-on/shmem-always:boot"]["status"] == "MISS"
    xfail = tests["base-x86_64-thp-on/default:memory.read_hole_blocks[memfd,private]"]
    assert xfail["status"] == "FAIL"
    # xfail and crash: incidents of issues (the expectations entry; the console report's kind and frame)
    issues = {i["id"]: i for i in doc["issues"]}
    incidents = {n["test_id"]: issues[n["issue_id"]] for n in doc["incidents"]}
    assert incidents[xfail["id"]]["misc"]["match"] == runs.KNOWN[0].match
    assert incidents[xfail["id"]]["culprit"] == {"code": True}
    crash = incidents[tests[f"{series}:zeropage.console"]["id"]]
    assert crash["report_subject"] == "BUG in shmem_fault"
    assert len(doc["issues"]) == 2 and len(doc["incidents"]) == 2
    # the build failure is on the build, with no tests; the series that does not apply is an invalid checkout
    builds = {b["misc"]["cell"]: b for b in doc["builds"]}
    assert builds["series-arm64-thp-on"]["status"] == "FAIL"
    assert "'zp' undeclared" in builds["series-arm64-thp-on"]["log_excerpt"]
    assert not [t for t in doc["tests"] if t["build_id"] == builds["series-arm64-thp-on"]["id"]]
    invalid = [c for c in doc["checkouts"] if not c["valid"]]
    assert len(invalid) == 1 and "patch failed: mm/gup.c:2412" in invalid[0]["log_excerpt"]
    assert len(doc["checkouts"]) == 3 and len(doc["builds"]) == 3
    assert len(doc["tests"]) == 4 + 5 + 1  # base, series default, the infra boot


def test_checkout_ids_are_kci_devs_so_a_resubmission_merges(tmp_path: Path) -> None:
    doc = export(tmp_path, runs.every_outcome())
    seed = f"||{runs.BASE_COMMIT}|{runs.SERIES_HASH}"
    wanted = "zpfarm:ck-" + hashlib.sha256(seed.encode()).hexdigest()  # kcidev/libs/kcidb.py generate_checkout_id
    series = [c for c in doc["checkouts"] if c.get("patchset_hash") == runs.SERIES_HASH]
    assert [c["id"] for c in series] == [wanted]
    assert series[0]["git_commit_hash"] == runs.BASE_COMMIT  # the series' checkout is of its base
    assert series[0]["message_id"] == runs.COVER_ID


def test_the_same_input_gives_byte_identical_json(tmp_path: Path) -> None:
    junit = runs.write(tmp_path / "junit.xml", runs.every_outcome())
    series = tmp_path / "series.json"
    series.write_text(runs.series_info().dump())
    written = []
    for n in (1, 2):
        out = tmp_path / f"report{n}.json"
        args = ["export", "kcidb", str(junit), "--origin", "zpfarm", "--series", str(series), "-o", str(out)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        written.append(out.read_bytes())
    assert written[0] == written[1]
    assert json.loads(written[0])["version"] == {"major": 5, "minor": 3}


@pytest.mark.parametrize(
    "pick",
    [
        pytest.param(lambda s: s, id="everything-bad-input"),
        pytest.param(lambda s: s[:4], id="infra"),
        pytest.param(lambda s: s[:2], id="fail"),
        pytest.param(lambda s: [s[0], s[3]], id="build"),
    ],
)
def test_the_worst_status_of_the_export_is_the_runs_exit_code(tmp_path: Path, pick: Any) -> None:
    suites = pick(runs.every_outcome())
    assert kcidb.exit_code(export(tmp_path, suites)) == exit_code(Report(suites))


def test_a_clean_run_with_known_failures_exits_0_both_ways(tmp_path: Path) -> None:
    suites = runs.clean()
    assert kcidb.exit_code(export(tmp_path, suites)) == exit_code(Report(suites)) == 0


def test_a_bad_origin_or_url_is_refused(tmp_path: Path) -> None:
    suites = runs.every_outcome()
    with pytest.raises(UserError, match="origins are"):
        kcidb.document(suites, kcidb.Source("Zp farm"))
    with pytest.raises(UserError, match="https"):
        kcidb.document(suites, kcidb.Source("zpfarm", "git://example.org/linux"))


def _kci_dev() -> str | None:
    return os.environ.get("ZPFARM_KCI_DEV") or shutil.which("kci-dev")


@pytest.mark.skipif(_kci_dev() is None, reason="kci-dev is not installed (it pins an older click than zpfarm's)")
def test_kci_dev_reads_the_export_offline(tmp_path: Path) -> None:
    doc = export(tmp_path, runs.every_outcome())
    path = tmp_path / "report.json"
    path.write_text(kcidb.dumps(doc))
    done = subprocess.run(
        [str(_kci_dev()), "submit", "build", "--from-json", str(path), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    echoed = json.loads(done.stdout[done.stdout.index("{") :])
    assert {k: len(v) for k, v in echoed.items() if isinstance(v, list)} == {
        k: len(v) for k, v in doc.items() if isinstance(v, list)
    }
