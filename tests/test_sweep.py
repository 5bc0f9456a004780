"""zpfarm sweep on a fake kernel tree (tests/fakelinux) with a three-patch series.

Patch 1 breaks mm/memory.o where CONFIG_KSM is off (allnoconfig, not defconfig),
patch 2 adds a W=1 warning to mm/shmem.c (which has one already), patch 3 only
touches Documentation/. The fake Makefile compiles by the "// fake:" lines of
the sources, so what fails is decided by the series, as in a real tree.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli
from farm import sweep
from farm.host.cache import Cache, default_root
from farm.kernel.source import resolve_matrix
from farm.model import matrix
from farm.model.errors import UserError
from farm.model.results import Report, Status, Suite, TestResult

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
FAKELINUX = Path(__file__).parent / "fakelinux"
SWEEP = """
[sweep]
configs = ["allnoconfig", "defconfig"]
seeds = [3]
arches = ["x86_64", "arm64", "powerpc64le"]
compilers = ["gcc", "clang"]
clang_arches = ["x86_64"]
"""


class Quiet:
    def notice(self, text: str) -> None: ...
    def phase(self, cell: str, phase: str, detail: str = "") -> None: ...
    def line(self, cell: str, text: str) -> None: ...
    def suite_done(self, suite: Suite) -> None: ...


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True)
    return done.stdout


def _commit(repo: Path, subject: str, edits: dict[str, str]) -> None:
    for name, text in edits.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        with (repo / name).open("a") as f:
            f.write(text)
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", subject)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A matrix over the fake tree tagged v1.0, and kernel-series/ with the three patches."""
    repo = tmp_path / "linux"
    shutil.copytree(FAKELINUX, repo)
    _git(repo, "init", "-q")
    _commit(repo, "Linux 1.0", {})
    _git(repo, "tag", "v1.0")
    breaks = (
        "#ifdef CONFIG_USERFAULTFD\n#endif\n"
        "int is_file_zeropage_pte(void); // fake: error-unless KSM implicit declaration of function 'is_ksm_zero_pte'\n"
    )
    _commit(
        repo,
        "mm: add is_file_zeropage_pte()",
        {"mm/memory.c": breaks, "mm/internal.h": "int is_file_zeropage_pte(void);\n"},
    )
    _commit(repo, "shmem: note the zeropage", {"mm/shmem.c": "int zero; // fake: warn unused variable 'zero'\n"})
    _commit(repo, "Documentation: tmpfs", {"Documentation/tmpfs.rst": "zero page\n"})
    series = tmp_path / "kernel-series"
    _git(repo, "format-patch", "-q", "-o", str(series), "v1.0..HEAD")
    (series / "series").write_text("".join(f"{p.name}\n" for p in sorted(series.glob("*.patch"))))
    _git(repo, "checkout", "-q", "v1.0")
    (tmp_path / "testcases").mkdir()
    (tmp_path / "k.config").write_text("CONFIG_SHMEM=y\n")
    (tmp_path / "matrix.toml").write_text(
        '[source]\ntree = "linux"\nbase = "v1.0"\n'
        '[axes]\nkernel = ["series"]\narch = ["x86_64"]\nkconfig = ["k"]\n'
        '[kconfig.k]\nfragments = ["k.config"]\n' + SWEEP
    )
    return tmp_path


def _no_powerpc(name: str) -> str | None:
    return None if name.startswith("powerpc64le") else f"/usr/bin/{name}"


def _run(project: Path, *only: str) -> Report:
    m = matrix.load(project / "matrix.toml")
    opts = sweep.options(m, Cache(project / "cache"), project / "out", project / "junit.xml", only, jobs=2)
    report = Report()
    sweep.run(opts, Quiet(), report, which=_no_powerpc)
    return report


def _cases(report: Report, suite: str) -> dict[str, TestResult]:
    (found,) = [s for s in report.suites if s.name == suite]
    return {c.name: c for c in found.cases}


def test_the_sweep_catches_the_config_only_failure_and_the_new_warning(project: Path) -> None:
    report = _run(project)
    assert [s.name for s in report.suites] == [
        "x86_64-gcc/sweep",
        "x86_64-clang/sweep",
        "arm64-gcc/sweep",
        "powerpc64le-gcc/sweep",
    ]
    cases = _cases(report, "x86_64-gcc/sweep")
    broken = cases["0001 mm: add is_file_zeropage_pte() [allnoconfig]"]
    assert broken.status is Status.BUILD
    assert "mm/memory.o does not compile under allnoconfig" in broken.message
    assert "mm/memory.c:7: error: implicit declaration of function 'is_ksm_zero_pte'" in broken.message
    assert str(project) not in broken.message  # the compiler's line, its path relative to the tree
    assert cases["0001 mm: add is_file_zeropage_pte() [defconfig]"].status is Status.PASS
    # seed 3 is odd: the fake randconfig sets KSM, and the seed is in the case
    rand = cases["0001 mm: add is_file_zeropage_pte() [randconfig-3]"]
    assert rand.status is Status.PASS and "KCONFIG_SEED=3" in rand.message
    # patch 2's warning fails it under every config; the base's warning is listed apart
    for config in ("allnoconfig", "defconfig", "randconfig-3"):
        warned = cases[f"0002 shmem: note the zeropage [{config}]"]
        assert warned.status is Status.FAIL, warned
        assert warned.message.startswith("1 new W=1 warning(s)") and "unused variable 'zero'" in warned.message
        existing = warned.output.split("existing (the base has them too):")[1]
        assert "unused variable 'unused'" in existing and "'zero'" not in existing
    assert cases["0003 Documentation: tmpfs [defconfig]"].status is Status.SKIP
    assert len(cases) == 3 * 3  # one case per (patch, config)


def test_a_missing_toolchain_is_skipped_naming_its_package(project: Path) -> None:
    cases = _cases(_run(project, "powerpc64le-*/*"), "powerpc64le-gcc/sweep")
    assert {c.status for c in cases.values()} == {Status.SKIP}
    assert all("apt-get install gcc-powerpc64le-linux-gnu" in c.message for c in cases.values())


def test_each_toolchain_gets_its_arch_and_compiler(project: Path) -> None:
    _run(project, "*/allnoconfig")
    clang = (project / "cache/sweep/x86_64-clang/allnoconfig/.config").read_text()
    arm = (project / "cache/sweep/arm64-gcc/allnoconfig/.config").read_text()
    assert "ARCH=x86_64 CROSS_COMPILE= LLVM=-19 CC=ccache clang-19" in clang
    assert "ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- LLVM= CC=ccache aarch64-linux-gnu-gcc" in arm


def test_randconfig_is_biased_to_the_options_the_series_tests(project: Path) -> None:
    _run(project, "x86_64-gcc/randconfig-3")
    fragment = (project / "cache/sweep/x86_64-gcc/randconfig-3.fragment").read_text()
    assert "CONFIG_USERFAULTFD" in fragment  # patch 1 adds #ifdef CONFIG_USERFAULTFD
    assert "CONFIG_KSM" not in fragment  # no touched file tests it


def test_the_reproducer_rebuilds_exactly_the_failing_object(project: Path) -> None:
    report = _run(project, "x86_64-gcc/allnoconfig")
    broken = _cases(report, "x86_64-gcc/sweep")["0001 mm: add is_file_zeropage_pte() [allnoconfig]"]
    lines = broken.output.splitlines()
    checkout, make = lines[lines.index("reproduce:") + 2 : lines.index("reproduce:") + 4]
    assert make.strip().endswith("W=1 mm/memory.o")
    for command in (checkout, make):
        done = subprocess.run(command, shell=True, capture_output=True, text=True)
    assert done.returncode != 0 and "is_ksm_zero_pte" in done.stdout


def test_a_warm_sweep_keeps_each_prepared_config_and_compile(project: Path) -> None:
    first = _run(project, "x86_64-gcc/*")
    config = project / "cache/sweep/x86_64-gcc/defconfig/.config"
    made = config.stat().st_mtime_ns
    memory_o = project / "cache/sweep/x86_64-gcc/defconfig/mm/memory.o"
    compiled = memory_o.stat().st_mtime_ns
    second = _run(project, "x86_64-gcc/*")
    assert config.stat().st_mtime_ns == made and memory_o.stat().st_mtime_ns == compiled  # nothing ran again
    assert [(c.name, c.status, c.message) for c in first.suites[0].cases] == [
        (c.name, c.status, c.message) for c in second.suites[0].cases
    ]


def test_a_reposted_patch_compiles_again_and_only_from_there(project: Path) -> None:
    _run(project, "x86_64-gcc/defconfig")
    series = project / "kernel-series"
    last = sorted(series.glob("0002-*.patch"))[0]
    last.write_text(last.read_text().replace("unused variable 'zero'", "unused variable 'nought'"))
    cases = _cases(_run(project, "x86_64-gcc/defconfig"), "x86_64-gcc/sweep")
    assert "'nought'" in cases["0002 shmem: note the zeropage [defconfig]"].message
    assert cases["0001 mm: add is_file_zeropage_pte() [defconfig]"].elapsed == 0.0  # kept: it did not change


def test_the_junit_has_one_case_per_patch_and_config(project: Path) -> None:
    _run(project, "x86_64-gcc/*")
    root = ET.parse(project / "junit.xml").getroot()
    (suite,) = root.findall("testsuite")
    assert suite.get("tests") == "9" and suite.get("failures") == "4"  # 1 BUILD + 3 new-warning FAILs


def test_the_matrix_sweep_table_is_checked(tmp_path: Path, project: Path) -> None:
    text = (project / "matrix.toml").read_text()
    for bad, words in (
        ('configs = ["allnoconfig", "nosuchconfig"]', "unknown value 'nosuchconfig'"),
        ("seeds = [3]\nrandconfigs = 2", "'randconfigs' must be"),
        ('arches = ["vax"]', "unknown value 'vax'"),
        ("header_users = -1", "'header_users' must be 0 or more"),
    ):
        key = bad.split(" ")[0]
        lines = [line for line in text.splitlines() if not line.startswith(key)]
        (project / "bad.toml").write_text("\n".join(lines) + "\n" + bad + "\n")
        with pytest.raises(UserError, match=words.replace("(", r"\(")):
            matrix.load(project / "bad.toml")


def test_the_default_sweep_is_the_issue_one(project: Path) -> None:
    lines = (project / "matrix.toml").read_text().split("[sweep]")[0]
    (project / "default.toml").write_text(lines)
    s = matrix.load(project / "default.toml").sweep
    assert s is not None
    assert [c.name for c in s.configs] == [
        "allnoconfig",
        "tinyconfig",
        "defconfig",
        "allmodconfig",
        "randconfig-1",
        "randconfig-2",
    ]
    assert [t.name for t in s.toolchains] == [
        "x86_64-gcc",
        "x86_64-clang",
        "i386-gcc",
        "arm64-gcc",
        "arm64-clang",
        "s390-gcc",
        "riscv64-gcc",
        "powerpc64le-gcc",
    ]


def test_only_must_pick_something(project: Path) -> None:
    m = matrix.load(project / "matrix.toml")
    with pytest.raises(UserError, match="--only 'mips-\\*' matches no"):
        sweep.options(m, Cache(project / "cache"), project / "out", project / "j.xml", ("mips-*",))


def test_the_command_runs_the_sweep_and_exits_1_on_a_failure(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", _no_powerpc)
    args = ["sweep", "-m", str(project / "matrix.toml"), "--only", "x86_64-gcc/allnoconfig", "-q"]
    done = CliRunner().invoke(
        cli.app, [*args, "--cache", str(project / "cache"), "--results", str(project / "res"), "-j", "2"]
    )
    assert done.exit_code == 1, done.output
    assert "mm/memory.o does not compile under allnoconfig" in done.output
    assert (project / "res/junit.xml").is_file()


def _real_allnoconfig_sweep(tmp_path: Path, series: Path) -> dict[str, TestResult]:
    """The default matrix's Linux 7.3 with series, x86_64 gcc allnoconfig only."""
    data = tomllib.loads((ROOT / "matrix.toml").read_text())
    data["series"] = str(series)
    data["sweep"] = {"configs": ["allnoconfig"], "randconfigs": 0, "arches": ["x86_64"], "compilers": ["gcc"]}
    data["sweep"]["header_users"] = 0
    cache = Cache(default_root())
    m = resolve_matrix(matrix.parse(data, ROOT / "matrix.toml"), cache)
    report = Report()
    sweep.run(sweep.options(m, cache, tmp_path, tmp_path / "junit.xml", jobs=2), Quiet(), report)
    return _cases(report, "x86_64-gcc/sweep")


@pytest.mark.vm
def test_the_real_sweep_catches_v2s_ksm_build_failure_at_patch_6_and_passes_the_series(tmp_path: Path) -> None:
    """Series v2 (kept in tests/data) did not build without CONFIG_KSM from patch 6 on; the series builds."""
    v2 = _real_allnoconfig_sweep(tmp_path / "v2", DATA / "series-v2-v7.3")
    (six,) = [c for name, c in v2.items() if name.startswith("0006 ")]
    assert six.status is Status.BUILD, six
    assert "mm/memory.o does not compile under allnoconfig" in six.message and "is_ksm_zero_pte" in six.message
    assert not [name for name, c in v2.items() if name < "0006" and c.status is Status.BUILD]
    now = _real_allnoconfig_sweep(tmp_path / "now", ROOT / "kernel-series" / "v7.3")
    verdicts = {c.status for c in now.values()}  # a skip: a patch allnoconfig compiles nothing of
    assert Status.PASS in verdicts and verdicts <= {Status.PASS, Status.SKIP}, {n: c.message for n, c in now.items()}


def test_a_series_that_does_not_apply_is_bad_input_in_every_suite(project: Path) -> None:
    patch = sorted((project / "kernel-series").glob("0001-*.patch"))[0]
    patch.write_text(patch.read_text().replace("int zero_pfn(void)", "int no_such_line(void)"))
    report = _run(project, "x86_64-*/allnoconfig")
    assert [s.name for s in report.suites] == ["x86_64-gcc/sweep", "x86_64-clang/sweep"]
    for suite in report.suites:
        (case,) = suite.cases
        assert case.status is Status.INPUT and "does not apply" in case.message
