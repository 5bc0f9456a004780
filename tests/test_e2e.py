"""End to end on a real kernel: build the default base (x86_64, arm64), boot it under virtme-ng, run tests.

These are the farm's honest tests: a real build, a real QEMU guest, real
JUnit. The kernel cache ($ZPFARM_CACHE, default ~/.cache/zpfarm) survives
between runs, so only the first run pays for the cold build (minutes).
Fault injection: a hung test program, a hung guest, a kernel panic, a patch
that does not apply, a dropped config option, a malformed matrix.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import junitparser
import pytest
import xmlschema

from farm import resolve
from farm.host.cache import Cache, default_root

ROOT = Path(__file__).resolve().parent.parent
XSD = Path(__file__).parent / "data" / "junit-10.xsd"
CELL = "base-x86_64-thp-on"
pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def release() -> str:
    """The point release the default matrix's tarball holds (7.3.4): what its cells build."""
    return resolve.load(ROOT / "matrix.toml", Cache(default_root())).source.base.removeprefix("v")


def zpfarm(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ZPFARM_CACHE": str(default_root())}
    return subprocess.run(
        [str(Path(sys.executable).parent / "zpfarm"), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )


def read_junit(path: Path) -> dict[str, dict[str, junitparser.TestCase]]:
    """suite name -> case name -> case, after validating against the XSD."""
    xmlschema.XMLSchema(XSD).validate(path)
    xml = junitparser.JUnitXml.fromfile(str(path))
    return {suite.name: {case.name: case for case in suite} for suite in xml}


def kind(case: junitparser.TestCase) -> str:
    """pass, failure, error, skipped or xfail."""
    if not case.result:
        return "pass"
    r = case.result[0]
    if isinstance(r, junitparser.Skipped):
        return "xfail" if r.type == "xfail" else "skipped"
    return "failure" if isinstance(r, junitparser.Failure) else "error"


def matrix(
    tmp_path: Path, *, kernel: str = "base", kconfig: str = "thp-on", fragment: str = "", guest: str = ""
) -> Path:
    """A one-cell matrix beside its own testcases/ and kernel-series/ dirs."""
    configs = ROOT / "farm" / "configs"
    frags = [str(configs / "thp-on.config")]
    if fragment:
        (tmp_path / "extra.config").write_text(fragment)
        frags.append(str(tmp_path / "extra.config"))
    (tmp_path / "testcases").mkdir(exist_ok=True)
    (tmp_path / "testcases" / "expectations.toml").touch()
    (tmp_path / "kernel-series").mkdir(exist_ok=True)
    path = tmp_path / "matrix.toml"
    path.write_text(
        textwrap.dedent(f"""
        [axes]
        kernel = ["{kernel}"]
        arch = ["x86_64"]
        kconfig = ["{kconfig}"]
        [kconfig.{kconfig}]
        fragments = {frags!r}
        [guest]
        {guest}
        """).replace("'", '"')
    )
    return path


def add_test(tmp_path: Path, name: str, body: str) -> None:
    (tmp_path / "testcases").mkdir(exist_ok=True)
    (tmp_path / "testcases" / f"{name}.py").write_text(textwrap.dedent(body))


def test_real_kernel_builds_boots_and_runs_fault_tests(tmp_path: Path, release: str) -> None:
    done = zpfarm("run", "--cell", f"{CELL}/default", "--test", "memory", "--results", tmp_path, "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    suites = read_junit(tmp_path / "junit.xml")
    assert list(suites) == [f"{CELL}/default"]
    cases = suites[f"{CELL}/default"]
    memory = {name: kind(c) for name, c in cases.items() if name.startswith("memory.")}
    assert memory, cases.keys()
    # On base, reading a hole allocates: the saving tests are known failures.
    assert "xfail" in memory.values(), memory
    assert all(k in ("pass", "xfail", "skipped") for k in memory.values()), memory
    xml = (tmp_path / "junit.xml").read_text()
    assert f'name="kernel_release" value="{release}' in xml
    assert f'name="base" value="v{release}"' in xml and 'name="base_line" value="v7.3"' in xml
    assert 'name="tarball_sha256" value="' in xml
    assert 'name="reproducer" value="zpfarm run --matrix' in xml
    assert (tmp_path / CELL / "build.log").is_file()
    assert f"Linux version {release}" in (tmp_path / CELL / "default" / "console.log").read_text()


def test_arm64_cell_cross_builds_and_boots_on_its_own_root(tmp_path: Path) -> None:
    """arm64 under TCG: cross-built Image, mmdebstrap root, cross-built static tests."""
    cell = "base-arm64-thp-on"
    done = zpfarm("run", "--cell", f"{cell}/default", "--test", "memory", "--results", tmp_path, "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    cases = read_junit(tmp_path / "junit.xml")[f"{cell}/default"]
    memory = {name: kind(c) for name, c in cases.items() if name.startswith("memory.")}
    assert "xfail" in memory.values() and "pass" in memory.values(), memory
    xml = (tmp_path / "junit.xml").read_text()
    assert 'name="arch" value="arm64"' in xml and 'name="accel" value="tcg"' in xml
    console = (tmp_path / cell / "default" / "console.log").read_text()
    assert "Machine model: linux,dummy-virt" in console and "zpfarm: runner done" in console


def test_hung_test_is_killed_and_others_still_run(tmp_path: Path) -> None:
    add_test(tmp_path, "a_hangs", "import time\nprint('KTAP version 1\\n1..1', flush=True)\ntime.sleep(3600)\n")
    add_test(tmp_path, "b_fine", "print('KTAP version 1\\n1..1\\nok 1 fine')\n")
    m = matrix(tmp_path, guest="test_timeout = 15")
    done = zpfarm("run", "--matrix", m, "--results", tmp_path / "out", "--quiet", "--no-selftests")
    assert done.returncode == 1, done.stdout + done.stderr
    cases = read_junit(tmp_path / "out" / "junit.xml")[f"{CELL}/default"]
    assert kind(cases["b_fine.fine"]) == "pass"
    hung = [c for n, c in cases.items() if n.startswith("a_hangs")]
    assert hung and all(kind(c) == "error" for c in hung), {n: kind(c) for n, c in cases.items()}


def test_hung_guest_is_killed_at_its_timeout(tmp_path: Path) -> None:
    add_test(tmp_path, "a_fine", "print('KTAP version 1\\n1..1\\nok 1 fine')\n")
    # Stop the guest runner itself: nothing in the guest will ever finish.
    add_test(tmp_path, "b_freeze", "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\n")
    m = matrix(tmp_path, guest="boot_timeout = 120\ntest_timeout = 10")
    done = zpfarm("run", "--matrix", m, "--results", tmp_path / "out", "--quiet", "--no-selftests")
    assert done.returncode == 1, done.stdout + done.stderr
    cases = read_junit(tmp_path / "out" / "junit.xml")[f"{CELL}/default"]
    assert kind(cases["a_fine.fine"]) == "pass"  # what finished before the hang is kept
    assert kind(cases["boot"]) == "error"
    assert "guest hung" in cases["boot"].result[0].message


def test_icount_guest_clock_counts_instructions_and_skips_idle_time(tmp_path: Path) -> None:
    """--accel icount: a guest sleeping 200 s of its own time costs the host almost none."""
    slept = "import time\ntime.sleep(200)\nprint('KTAP version 1\\n1..1\\nok 1 slept')\n"
    add_test(tmp_path, "a_sleeps", slept)
    m = matrix(tmp_path, guest="test_timeout = 400")
    start = time.monotonic()
    done = zpfarm("run", "--matrix", m, "--accel", "icount", "--results", tmp_path / "out", "--quiet", "--no-selftests")
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stdout + done.stderr
    cases = read_junit(tmp_path / "out" / "junit.xml")[f"{CELL}/default"]
    assert kind(cases["a_sleeps.slept"]) == "pass"
    assert 'name="accel" value="icount"' in (tmp_path / "out" / "junit.xml").read_text()
    assert elapsed < 150, f"{elapsed:.0f} s on the host for a boot and a 200 s sleep"


def test_kernel_panic_is_an_error_with_the_excerpt(tmp_path: Path) -> None:
    add_test(tmp_path, "panic", "open('/proc/sysrq-trigger', 'w').write('c')\n")
    done = zpfarm("run", "--matrix", matrix(tmp_path), "--results", tmp_path / "out", "--quiet", "--no-selftests")
    assert done.returncode == 1, done.stdout + done.stderr
    cases = read_junit(tmp_path / "out" / "junit.xml")[f"{CELL}/default"]
    console = [c for n, c in cases.items() if n.endswith(".console")]
    assert console and all(kind(c) == "error" for c in console)
    assert any("sysrq" in (c.result[0].text or "") for c in console)
    assert any(n == "panic.console" for n in cases), list(cases)


def test_patch_that_does_not_apply_is_exit_2_naming_it(tmp_path: Path, release: str) -> None:
    m = matrix(tmp_path, kernel="series")
    series = tmp_path / "kernel-series"
    (series / "0001-shmem-bogus.patch").write_text(
        "From 0 Mon Sep 17 00:00:00 2001\nFrom: A <a@b>\nSubject: [PATCH] shmem: bogus\n\n---\n"
        "--- a/mm/shmem.c\n+++ b/mm/shmem.c\n@@ -1,1 +1,1 @@\n-no such line\n+new line\n"
    )
    (series / "series").write_text("0001-shmem-bogus.patch\n")
    done = zpfarm("run", "--matrix", m, "--results", tmp_path / "out", "--quiet", "--no-selftests")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"0001-shmem-bogus.patch does not apply to v{release}" in done.stderr
    assert "Traceback" not in done.stderr
    cases = read_junit(tmp_path / "out" / "junit.xml")["series-x86_64-thp-on/default"]
    assert kind(cases["build"]) == "error"


def test_dropped_config_option_is_exit_2_naming_it(tmp_path: Path) -> None:
    m = matrix(tmp_path, kconfig="dropped", fragment="CONFIG_ZPFARM_NO_SUCH_OPTION=y\n")
    done = zpfarm("run", "--matrix", m, "--results", tmp_path / "out", "--quiet", "--no-selftests")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "CONFIG_ZPFARM_NO_SUCH_OPTION=y from extra.config did not survive olddefconfig" in done.stderr
    assert kind(read_junit(tmp_path / "out" / "junit.xml")["base-x86_64-dropped/default"]["build"]) == "error"


def _terminate_when(
    args: list[str | Path], log_line: str, delay: float, where: Path
) -> subprocess.CompletedProcess[str]:
    """Start zpfarm, send SIGTERM (what CI sends on cancel) delay s after log_line, return how it ended."""
    env = {**os.environ, "ZPFARM_CACHE": str(default_root())}
    argv = [str(Path(sys.executable).parent / "zpfarm"), *map(str, args)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as child:
        assert child.stdout is not None
        seen = []
        for line in child.stdout:
            seen.append(line)
            if log_line in line:
                break
        time.sleep(delay)
        child.send_signal(signal.SIGTERM)
        rest, _ = child.communicate(timeout=120)
    return subprocess.CompletedProcess(argv, child.returncode, "".join(seen) + rest, "")


def _left_running(marker: str) -> list[str]:
    done = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True)
    return [line for line in done.stdout.splitlines() if "pgrep" not in line]


def test_sigterm_mid_build_stops_the_build_and_leaves_valid_junit(tmp_path: Path) -> None:
    # A kconfig variant of its own, its build directory emptied: each interrupted run leaves objects
    # behind, and make picks up where the last one stopped, so without this a build finishes early.
    shutil.rmtree(Cache(default_root()).build("base-x86_64-sigterm-build"), ignore_errors=True)
    m = matrix(tmp_path, kconfig="sigterm-build", fragment='CONFIG_LOCALVERSION="-zpfarm-sigterm"\n')
    add_test(tmp_path, "a_fine", "print('KTAP version 1\\n1..1\\nok 1 fine')\n")
    args = ["run", "--matrix", m, "--results", tmp_path / "out", "--quiet", "--no-selftests"]
    done = _terminate_when(args, ": build", 20, tmp_path)
    assert done.returncode == 128 + signal.SIGTERM, done.stdout
    assert "interrupted" in done.stdout
    assert _left_running("build/base-x86_64-sigterm-build") == []
    cases = read_junit(tmp_path / "out" / "junit.xml")["base-x86_64-sigterm-build/default"]
    assert kind(cases["interrupted"]) == "error"


def test_sigterm_mid_boot_stops_the_guest_and_leaves_valid_junit(tmp_path: Path) -> None:
    add_test(tmp_path, "a_slow", "import time\nprint('KTAP version 1\\n1..1', flush=True)\ntime.sleep(300)\n")
    args = ["run", "--matrix", matrix(tmp_path), "--results", tmp_path / "out", "--quiet", "--no-selftests"]
    done = _terminate_when(args, ": boot", 15, tmp_path)
    assert done.returncode == 128 + signal.SIGTERM, done.stdout
    assert _left_running(str(tmp_path)) == []  # vng, virtme-run and qemu name the share directory
    cases = read_junit(tmp_path / "out" / "junit.xml")[f"{CELL}/default"]
    assert kind(cases["interrupted"]) == "error"
