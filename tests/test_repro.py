"""A reproducer that travels: a bundle made in one directory reruns its one test from another.

The runs here are real `zpfarm` processes (the CLI, the pipeline, the artifact checks, the
judging) with one stage faked: vng. farm.vm.boot.vng() is pointed at a script that runs the
guest runner from the share directory on the host, and the runner the kernel artifact carries
is a shell script that writes KTAP for each program of its plan (zeropage fails, the rest pass).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from kernels import kernel_tarball

from farm import repro, repro_suite, steps
from farm.host.cache import Cache
from farm.kernel import artifact, series
from farm.model import matrix
from farm.model.errors import UserError
from farm.model.programs import GuestTest
from farm.report.progress import Reporter
from farm.stages import GuestPrograms
from farm.vm import boot

KEY = "00000000000000b2"
CELL = "series-x86_64-on"
SUITE = f"{CELL}/default"

PATCH = """\
From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001
From: A U Thor <author@example.org>
Subject: [PATCH] shmem: one line

---
 mm/shmem.c | 1 +
 1 file changed, 1 insertion(+)

diff --git a/mm/shmem.c b/mm/shmem.c
--- a/mm/shmem.c
+++ b/mm/shmem.c
@@ -1 +1,2 @@
 /* Linux 7.3.4 */
+/* one */
--
2.39.5
"""

FAKE_RUNNER = r"""#!/bin/sh
# The guest runner's part a test needs: KTAP for each program of plan.txt, begin/end on the console.
cd "$(dirname "$0")" || exit 1
n=$(grep -c '^test' plan.txt)
printf 'KTAP version 1\n1..%s\n' "$n" > results.ktap
i=0
for name in $(grep '^test' plan.txt | cut -f2); do
    i=$((i + 1))
    echo "zpfarm: begin $name"
    r=ok
    [ "$name" = zeropage ] && r="not ok"
    printf '    # Subtest: %s\n    1..1\n    %s 1 read_hole\n%s %s %s\n' "$name" "$r" "$r" "$i" "$name" >> results.ktap
    echo "zpfarm: end $name"
done
touch done
"""

FAKE_VNG = """#!{python}
import os, subprocess, sys
share = os.path.abspath(next(a.split("=", 2)[2] for a in sys.argv if a.startswith("--rwdir=")))
print("Linux version 7.3.4 (fake vng: the runner runs on the host)", flush=True)
sys.exit(subprocess.call([share + "/runner"], cwd=share))
"""

# zpfarm with farm.vm.boot.vng() pointed at $FAKE_VNG: everything else is the real CLI.
ZPFARM = """#!/bin/sh
exec {python} -c 'import os, sys; from farm.vm import boot; boot.vng = lambda: os.environ["FAKE_VNG"]; \\
import cli; sys.argv[0] = "zpfarm"; cli.main()' "$@"
"""


class Quiet(Reporter):
    def notice(self, text: str) -> None: ...
    def line(self, cell: str, text: str) -> None: ...
    def phase(self, cell: str, phase: str, detail: str = "") -> None: ...
    def suite_done(self, suite: object) -> None: ...  # type: ignore[override]


def _project(root: Path, tarball: Path) -> Path:
    """A matrix of one series cell on a (fake) 7.3 tarball, its series, fragments and testcases."""
    (root / "kernel-series").mkdir(parents=True)
    (root / "kernel-series" / "series").write_text("0001-one.patch\n")
    (root / "kernel-series" / "0001-one.patch").write_text(PATCH)
    (root / "testcases").mkdir()
    for name in ("memory", "zeropage"):
        (root / "testcases" / f"{name}.c").write_text("int main(void) { return 0; }\n")
    (root / "testcases" / "expectations.toml").write_text("")
    (root / "on.config").write_text("CONFIG_TRANSPARENT_HUGEPAGE=y\n")
    path = root / "matrix.toml"
    path.write_text(
        textwrap.dedent(f"""
        series = "kernel-series"
        [source]
        tarball = "{tarball}"
        [axes]
        kernel = ["series"]
        arch = ["x86_64"]
        kconfig = ["on"]
        [kconfig.on]
        fragments = ["on.config"]
        [runtime.default]
        sysfs = {{ "kernel/mm/transparent_hugepage/shmem_enabled" = "advise" }}
        """)
    )
    return path


def _artifact(where: Path, series_dir: Path, commit: str = "abc") -> Path:
    """The kernel artifact of the series cell, as `zpfarm build` packs it, with the fake runner."""
    files = where / "files"
    files.mkdir(parents=True)
    for name in ("bzImage", "config", "memory", "zeropage"):
        (files / name).write_text(f"{name}\n")
    (files / "runner-fake").write_text(FAKE_RUNNER)
    (files / "runner-fake").chmod(0o755)
    tests = tuple(GuestTest(n, (f"./{n}",), (files / n,), 60.0) for n in ("memory", "zeropage"))
    staged = where / "staged"
    staged.mkdir()
    programs = steps._stage_programs(staged, GuestPrograms(files / "runner-fake", tests), ())
    patches = series.load(series_dir).hash
    manifest = artifact.Manifest(
        KEY, "x86_64", CELL, commit, patches, ("base-x86_64.config",), "gcc", 0, 1.0, "bzImage"
    )
    return artifact.pack(where / "dist", manifest, files / "bzImage", files / "config", programs)


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, Path]:
    """This machine's tools: the kernel tarball install.sh puts in place, the faked vng, zpfarm."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("vng", FAKE_VNG), ("zpfarm", ZPFARM)):
        (bin_dir / name).write_text(text.format(python=sys.executable))
        (bin_dir / name).chmod(0o755)
    tarball = kernel_tarball(tmp_path / "usr-src" / "linux-source-7.3.tar.xz", "7.3.4")
    return {"vng": bin_dir / "vng", "zpfarm": bin_dir / "zpfarm", "tarball": tarball}


def _zpfarm(machine: dict[str, Path], cache: Path, *args: str) -> tuple[int, str]:
    """zpfarm's CLI in this process (faster than a process of its own), its vng faked as the script's is."""
    from typer.testing import CliRunner

    from cli import app

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(boot, "vng", lambda: str(machine["vng"]))
        done = CliRunner().invoke(app, [*args, "--cache", str(cache)], env={"COLUMNS": "200"})
    return done.exit_code, done.output


def test_a_bundle_made_here_reruns_its_one_test_elsewhere_with_the_original_exit(
    tmp_path: Path, machine: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    made = tmp_path / "made-here"
    monkeypatch.chdir(made.parent)
    matrix_file = _project(made / "project", machine["tarball"])
    kernel = _artifact(made / "ci", matrix_file.parent / "kernel-series")
    results, cache = made / "results", made / "cache"
    code, output = _zpfarm(machine, cache, "test", "--matrix", str(matrix_file), "--cell", SUITE, "--kernel",
                           str(kernel), "--accel", "tcg", "--results", str(results))  # fmt: skip
    assert code == 1, output  # zeropage failed
    junit = (results / "junit.xml").read_text()
    assert f"zpfarm test --matrix made-here/project/matrix.toml --cell {SUITE} --kernel {KEY}.tar.zst" in junit
    code, output = _zpfarm(machine, cache, "repro", "make", f"{SUITE}/zeropage.read_hole", "--matrix",
                           str(matrix_file), "--results", str(results), "--kernel", str(kernel), "-o",
                           str(made / "bundle"))  # fmt: skip
    assert code == 0, output

    elsewhere = tmp_path / "another-machine"
    elsewhere.mkdir()
    bundle = Path(shutil.move(made / "bundle", elsewhere / "bundle"))
    shutil.rmtree(made)  # nothing of the machine that made it is needed
    for path in bundle.rglob("*"):
        assert not path.is_file() or str(made).encode() not in path.read_bytes(), path
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=bundle).returncode == 0

    env = {**os.environ, "FAKE_VNG": str(machine["vng"]), "ZPFARM": str(machine["zpfarm"])}
    env["ZPFARM_CACHE"] = str(elsewhere / "cache")
    rerun = subprocess.run([str(bundle / "reproduce.sh")], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert rerun.returncode == 1, rerun.stdout + rerun.stderr  # the original exit
    ktap = (bundle / "results" / SUITE / "share" / "results.ktap").read_text()
    assert ktap.count("# Subtest:") == 1 and "# Subtest: zeropage" in ktap
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["expected_exit"] == 1 and manifest["build_key"] == KEY and manifest["program"] == "zeropage"
    assert manifest["artifact_sha256"] == artifact_sha(bundle / f"{KEY}.tar.zst")
    assert manifest["guest"] == {"cpus": "2", "memory": "2G"} and manifest["run"]["base"] == "v7.3.4"
    expected_id = subprocess.run(["git", "patch-id", "--stable"], input=PATCH, capture_output=True, text=True)
    assert manifest["patches"] == [
        {
            "file": "0001-one.patch",
            "patch_id": expected_id.stdout.split()[0],
            "sha256": manifest["patches"][0]["sha256"],
        }
    ]


def artifact_sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _recorded_run(tmp_path: Path, tarball: Path, **props: str) -> tuple[matrix.Matrix, Cache, Path]:
    """A run of the series cell as its files say it: the JUnit, the results, the config in the cache."""
    from datetime import UTC, datetime

    from farm import resolve
    from farm.host import provenance
    from farm.model.results import Status, Suite, TestResult
    from farm.report import junit

    path = _project(tmp_path / "project", tarball)
    cache = Cache(tmp_path / "cache")
    m = resolve.load(path, cache)
    where = tmp_path / "results" / CELL / "default"
    (where / "share").mkdir(parents=True)
    (where / "share" / "results.ktap").write_text(
        "KTAP version 1\n1..1\n    # Subtest: memory\n    1..0\nok 1 memory\n"
    )
    (where / "console.log").write_text(
        f"$ vng --run {cache.root}/x\nzpfarm: begin memory\n{cache.root}/y\nzpfarm: end memory\n"
    )
    unpacked = cache.root / "artifacts" / KEY
    (unpacked / "kernel").mkdir(parents=True)
    (unpacked / "kernel" / "config").write_text("CONFIG_SHMEM=y\n")
    (unpacked / "manifest.json").write_text(json.dumps({"commit": "abc"}))
    recorded = {
        "matrix_sha256": provenance.sha256(m.path),
        "series_hash": series.load(path.parent / "kernel-series").hash,
        "commit": "abc",
        "build_key": KEY,
        "accel": "tcg",
    } | props
    cases = (TestResult("memory.read_hole", Status.PASS), TestResult("zeropage.read_hole", Status.FAIL))
    suite = Suite(SUITE, cases, recorded, "", datetime.now(UTC), 1.0)
    junit.write(tmp_path / "results" / "junit.xml", [suite])
    return m, cache, tmp_path / "results"


def _make(m: matrix.Matrix, cache: Cache, results: Path, out: Path, target: str = f"{SUITE}/memory") -> repro.Bundle:
    spec = repro_suite.Target.parse(target)
    return repro.make(m, cache, spec, results / "junit.xml", results, out, Quiet())


def test_a_bundle_without_the_kernel_reruns_the_cell_with_zpfarm_run_and_says_the_runs_exit(
    tmp_path: Path, machine: dict[str, Path]
) -> None:
    m, cache, results = _recorded_run(tmp_path, machine["tarball"])
    (tmp_path / "empty-already").mkdir()
    bundle = _make(m, cache, results, tmp_path / "empty-already")
    assert bundle.command == (
        "zpfarm run --matrix matrix.toml --cell series-x86_64-on/default --test memory --accel tcg --results results"
    )
    assert bundle.expected_exit == 0  # memory passed; zeropage's failure is not this test's
    assert (bundle.directory / ".config").read_text() == "CONFIG_SHMEM=y\n"
    console = (bundle.directory / "console.txt").read_text()
    assert "<cache>/y" in console and str(cache.root) not in console and "vng --run" not in console
    again = matrix.load(bundle.directory / "matrix.toml")
    assert [c.name for c in again.cells] == [CELL] and again.cells[0].runtimes == m.cells[0].runtimes
    assert again.sources[0].base == "v7.3.4"  # the point release the run tested, pinned
    assert _make(m, cache, results, tmp_path / "z", f"{SUITE}/zeropage").expected_exit == 1


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("../etc/default", "cell '..' is not a name"),
        (f"{CELL}/..", "runtime '..' is not a name"),
        (f"{CELL}/default/../../x", "is not a test name"),
        (f"{CELL}/default/pins", "has no test 'pins' (its programs: memory, zeropage)"),
        (f"{CELL}/other", "no suite 'series-x86_64-on/other' (suites: series-x86_64-on/default)"),
    ],
)
def test_a_target_that_is_no_plain_name_or_not_in_the_run_is_bad_input(
    tmp_path: Path, machine: dict[str, Path], target: str, words: str
) -> None:
    m, cache, results = _recorded_run(tmp_path, machine["tarball"])
    with pytest.raises(UserError) as e:
        _make(m, cache, results, tmp_path / "bundle", target)
    assert words in str(e.value)
    assert not (tmp_path / "bundle").exists()


def test_the_bundle_goes_only_to_a_new_or_empty_directory_and_a_failure_leaves_nothing(
    tmp_path: Path, machine: dict[str, Path]
) -> None:
    m, cache, results = _recorded_run(tmp_path, machine["tarball"], build_key="../../../../etc")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep").write_text("mine")
    with pytest.raises(UserError, match="is not empty"):
        _make(m, cache, results, tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep"]
    with pytest.raises(UserError, match="no longer holds the build"):  # a hostile build_key names no path
        _make(m, cache, results, tmp_path / "out" / "bundle")
    assert list((tmp_path / "out").iterdir()) == []  # its scratch directory went, nothing else was there


def test_a_run_from_another_matrix_or_series_is_refused(tmp_path: Path, machine: dict[str, Path]) -> None:
    m, cache, results = _recorded_run(tmp_path, machine["tarball"], matrix_sha256="0" * 64)
    with pytest.raises(UserError, match="give the run's own --matrix"):
        _make(m, cache, results, tmp_path / "a")
    m, cache, results = _recorded_run(tmp_path / "2", machine["tarball"], series_hash="f" * 64)
    with pytest.raises(UserError, match="the series changed since the run"):
        _make(m, cache, results, tmp_path / "b")
