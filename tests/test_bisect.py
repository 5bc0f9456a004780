"""zpfarm bisect: the verdict logic, and a real bisect over a planted regression."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import FakeFarm
from kernels import imported

from farm import bisect
from farm.host.cache import default_root
from farm.model.results import Report, Status, TestResult
from farm.report import junit

ROOT = Path(__file__).resolve().parent.parent


def report(*cases: TestResult) -> Report:
    r = Report()
    r.suites.append(junit.Suite("base-x86_64-thp-on/default", cases, {}, "", datetime.now(UTC), 1.0))
    return r


def test_judge_run() -> None:
    ok = TestResult("coherence.rfc[memfd,shared]", Status.PASS)
    bad = TestResult("coherence.fork[memfd,shared]", Status.FAIL, "saw 0")
    assert bisect.judge_run(report(ok), "coherence")[0] == bisect.GOOD
    assert bisect.judge_run(report(ok, bad), "coherence") == (bisect.BAD, "coherence.fork[memfd,shared]: fail saw 0")
    assert bisect.judge_run(report(ok, bad), "coherence.rfc*")[0] == bisect.GOOD
    assert bisect.judge_run(report(TestResult("build", Status.INFRA, "build failed")), "coherence")[0] == bisect.SKIP
    assert bisect.judge_run(report(ok), "memory")[0] == bisect.SKIP  # no such test at this commit
    panic = TestResult("coherence.console", Status.CRASH, "panic")
    assert bisect.judge_run(report(ok, panic), "coherence")[0] == bisect.BAD


def test_combine_threshold_for_flaky_tests() -> None:
    good, bad = (bisect.GOOD, "fine"), (bisect.BAD, "x failed")
    assert bisect.combine([good, bad, good], 1)[0] == bisect.BAD
    assert bisect.combine([good, bad, good], 2)[0] == bisect.GOOD
    assert bisect.combine([(bisect.SKIP, "build failed")], 1) == (bisect.SKIP, "build failed")


def test_every_step_builds_on_the_point_release_the_bisect_started_on(tmp_path: Path) -> None:
    from dataclasses import replace

    from farm.host.cache import Cache
    from farm.model import matrix as matrix_mod
    from farm.model.arches import Accel

    m = matrix_mod.load(ROOT / "matrix.toml")
    resolved = replace(m, sources=(replace(m.source, base="v7.3.4", line="v7.3"),))
    argv = bisect.step_argv(["zpfarm"], resolved, Cache(tmp_path), Accel.TCG, 1, 1, tmp_path)
    assert argv[argv.index("--base") + 1] == "v7.3.4"
    state = bisect.State(("zpfarm",), "series-x86_64-thp-on/default", "memory", "a" * 40, "b" * 40, "v7.3.4")
    assert bisect.moved(state, resolved) == ""
    later = replace(m, sources=(replace(m.source, base="v7.3.5", line="v7.3"),))
    assert bisect.moved(state, later).startswith("base moved: v7.3.4 -> v7.3.5 since the bisect started")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.mark.vm
@pytest.mark.bisect
def test_bisect_names_the_planted_regression_and_skips_a_broken_build(tmp_path: Path) -> None:
    """A real 4-patch series on the default base: the first patch changes vm_swappiness's default
    (the regression a guest test sees), the second breaks the build, the third mends it."""
    cache = default_root()
    repo, tag = imported(ROOT / "matrix.toml")
    scratch = tmp_path / "scratch"
    git(repo, "worktree", "add", "--detach", str(scratch), tag)
    try:
        vmscan = scratch / "mm" / "vmscan.c"
        edits = [
            ("mm: raise the default swappiness", "int vm_swappiness = 60;", "int vm_swappiness = 61;"),
            ("mm: half-finished cleanup", "int vm_swappiness = 61;", "int vm_swappiness = 61"),
            ("mm: finish the cleanup", "int vm_swappiness = 61", "int vm_swappiness = 61;"),
            ("mm: comment the swappiness default", "int vm_swappiness = 61;", "int vm_swappiness = 61; /* zpfarm */"),
        ]
        for subject, old, new in edits:
            vmscan.write_text(vmscan.read_text().replace(old, new, 1))
            git(scratch, "-c", "user.name=T", "-c", "user.email=t@t", "commit", "-qam", subject)
        series_dir = tmp_path / "kernel-series"
        git(scratch, "format-patch", "-q", "-o", str(series_dir), f"{tag}..HEAD")
    finally:
        git(repo, "worktree", "remove", "--force", str(scratch))
    (series_dir / "series").write_text("\n".join(sorted(p.name for p in series_dir.glob("0*.patch"))) + "\n")
    tests = tmp_path / "testcases"
    tests.mkdir()
    (tests / "expectations.toml").touch()
    (tests / "swappiness.py").write_text(
        textwrap.dedent("""
        value = open("/proc/sys/vm/swappiness").read().strip()
        print("KTAP version 1\\n1..1")
        print(f"# swappiness is {value}")
        print(f"{'ok' if value == '60' else 'not ok'} 1 default_is_60")
        """)
    )
    frag = ROOT / "farm" / "configs" / "thp-on.config"
    axes = '[axes]\nkernel = ["series"]\narch = ["x86_64"]\nkconfig = ["thp-on"]\n'
    (tmp_path / "matrix.toml").write_text(f'{axes}[kconfig.thp-on]\nfragments = ["{frag}"]\n')
    done = subprocess.run(
        [str(Path(sys.executable).parent / "zpfarm"), "bisect", "--matrix", str(tmp_path / "matrix.toml"),
         "--cell", "series-x86_64-thp-on", "--test", "swappiness", "--results", str(tmp_path / "out")],
        capture_output=True, text=True, env={**os.environ, "ZPFARM_CACHE": str(cache)}, timeout=5400,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "first bad commit:" in done.stdout and "mm: raise the default swappiness" in done.stdout
    steps = [json.loads(line) for line in (tmp_path / "out" / "steps.jsonl").read_text().splitlines()]
    verdicts = {s["subject"]: s["verdict"] for s in steps}
    assert verdicts.get("mm: half-finished cleanup") == "skip", steps
    assert "bad" in verdicts.values(), steps
    assert list((tmp_path / "out" / "steps").glob("*/run1/junit.xml"))


def test_bisect_over_the_four_patches_of_a_fake_tree_names_the_one_that_breaks_the_test(fakefarm: FakeFarm) -> None:
    """zpfarm bisect on tests/fakelinux: real git bisect run, real `zpfarm bisect-step` processes, each
    building its checkout (make O=, merge_config.sh) and booting it with the fake vng."""
    out = fakefarm.root / "out"
    result = fakefarm.zpfarm("bisect", "--cell", "series-*", "--test", "holes", "--results", out, "--accel", "tcg")
    assert result.exit_code == 0, result.output
    assert "bisecting holes in series-x86_64-shmem/default on v6.12.117" in result.output
    assert "first bad commit: " in result.output and "mm: map the zero page on read faults" in result.output
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    verdicts = {s["subject"]: s["verdict"] for s in steps}
    assert verdicts["mm: map the zero page on read faults"] == "bad"
    assert set(verdicts.values()) <= {"good", "bad"} and "good" in verdicts.values()
    assert len(list((out / "steps").glob("*/run1/junit.xml"))) == len(steps)
    reset = fakefarm.zpfarm("bisect", "--reset")
    assert reset.exit_code == 0 and reset.output.strip() == "bisect reset"
