"""Shared test settings."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import kernels
import pytest
from click.testing import Result
from typer.testing import CliRunner

import cli
from farm.guest import runner
from farm.host import proc
from farm.host.cache import Cache
from farm.model import arches

# Rich sizes tables from COLUMNS: fix it so rendered output is stable.
os.environ["COLUMNS"] = "200"


# The fast suite's floor of branch coverage over farm/ and cli.py (coverage.py, via pytest-cov).
FAST_SELECTION = "not vm and not bisect"
COVERAGE_FLOOR = 85.0


def pytest_configure(config: pytest.Config) -> None:
    """The fast suite as a whole (README's command) reports its coverage and must reach COVERAGE_FLOOR.

    pyproject's addopts measure coverage in every run; only the fast selection over the whole of
    tests/ can be held to a floor: a subset of it covers less by design, and the full run (with the
    vm tests, whose coverage is mostly in the guest) is judged by its tests alone.
    """
    cov = config.pluginmanager.get_plugin("_cov")
    if cov is None or not _whole_fast_suite(config):
        return
    cov.options.cov_fail_under = COVERAGE_FLOOR
    if not cov.options.cov_report:  # --cov-report=...: as asked; else the modules below 100%
        cov.options.cov_report["term"] = "skip-covered"  # in place: pytest-cov's controller holds this dict


def _whole_fast_suite(config: pytest.Config) -> bool:
    selected = " ".join(str(config.option.markexpr or "").split()) == FAST_SELECTION
    tests = Path(__file__).parent
    whole = config.args_source is pytest.Config.ArgsSource.TESTPATHS or [Path(a).resolve() for a in config.args] == [
        tests
    ]
    narrowed = config.option.keyword or config.option.deselect or config.getoption("lf", False)
    return selected and whole and not narrowed


@pytest.fixture(autouse=True)
def _processes_allowed() -> Iterator[None]:
    """A test that stops every process (proc.stop_all, as Ctrl-C does) must not ban the next test's."""
    yield
    proc.allow_new()


@pytest.fixture(scope="session")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two versions of kernel-series/v6.12 posted in one thread, imported through b4 (tests/lore.py)."""
    import lore

    return lore.two_versions(tmp_path_factory.mktemp("two-versions"))


# A patch series on tests/fakelinux: patch 2 adds a compiler warning (build-each fails it), patch 3
# plants the bug testcases/holes.py finds in the booted kernel (bisect names it), patch 4 is a
# document. The base and patch 1 are clean.
FAKE_SERIES: tuple[tuple[str, dict[str, str]], ...] = (
    ("mm: add zero_page_hole()", {"mm/memory.c": "int zero_page_hole(void) { return 0; }\n"}),
    ("shmem: note the zero page", {"mm/shmem.c": "int zero; // fake: warning unused variable 'zero'\n"}),
    ("mm: map the zero page on read faults", {"mm/memory.c": "/* ZPFARM_FAKE_BUG: holes read back dirty */\n"}),
    ("Documentation: tmpfs and the zero page", {"Documentation/tmpfs.rst": "Holes read as zero.\n"}),
)
# The one guest test: fails in a kernel that holds the planted bug (the fake vng gives the guest
# programs the booted image as $ZPFARM_FAKE_KERNEL; on a real kernel it reads /proc/version).
HOLES_TEST = """\
import os
bug = b"ZPFARM_FAKE_BUG" in open(os.environ.get("ZPFARM_FAKE_KERNEL", "/proc/version"), "rb").read()
print("KTAP version 1\\n1..2")
print(("not ok" if bug else "ok") + " 1 read_hole")
print("ok 2 write_hole")
"""


@dataclass(frozen=True)
class FakeFarm:
    """A project over tests/fakelinux: its matrix, tarball, series, testcases and cache, booted by the fake vng."""

    root: Path
    matrix: Path
    tarball: Path
    cache: Path

    def zpfarm(self, *args: str | Path) -> Result:
        """zpfarm ARGS through typer's CliRunner (in this process), with the project's matrix and cache."""
        argv = [str(a) for a in args]
        argv += ["--matrix", str(self.matrix), "--cache", str(self.cache)]
        return CliRunner().invoke(cli.app, argv, env={"COLUMNS": "1000"})  # tables never wrap a tmp path


@pytest.fixture(scope="session")
def _fakefarm_made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fakefarm project, made once (each test gets a copy): tarball, series, testcases, matrix, and
    a cache holding the guest runner built for this host as farm/guest/runner.py builds it."""
    root = tmp_path_factory.mktemp("fakefarm")
    kernels.fakelinux_tarball(root / "linux-source-6.12.tar.xz", "6.12.117")
    kernels.fakelinux_series(root / "kernel-series", "6.12.117", FAKE_SERIES)
    (root / "testcases").mkdir()
    (root / "testcases" / "holes.py").write_text(HOLES_TEST)
    (root / "testcases" / "expectations.toml").write_text("")
    (root / "shmem.config").write_text("CONFIG_SHMEM=y\nCONFIG_NR_CPUS=8\n")
    (root / "matrix.toml").write_text(
        '[source]\ntarball = "linux-source-6.12.tar.xz"\nbase = "v6.12"\n'
        '[axes]\nkernel = ["base", "series"]\narch = ["x86_64"]\nkconfig = ["shmem"]\n'
        '[kconfig.shmem]\nfragments = ["shmem.config"]\n'
        "[guest]\nboot_timeout = 2\ntest_timeout = 10\n"
    )
    arch = arches.for_machine(os.uname().machine)
    runner.build(arch, Cache(root / "cache").runner(arch.name), root / "runner.log")
    return root


@pytest.fixture
def fakefarm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _fakefarm_made: Path) -> FakeFarm:
    """A project over tests/fakelinux 6.12.117 (base "v6.12", floating), booted by tests/fakevng/vng.

    Two cells (base and series of x86_64), one runtime, one guest test (testcases/holes.py), short timeouts.
    """
    shutil.copytree(_fakefarm_made, tmp_path, dirs_exist_ok=True)
    monkeypatch.setenv("ZPFARM_VNG", str(kernels.FAKEVNG))
    monkeypatch.setenv("ZPFARM_CACHE", str(tmp_path / "cache"))
    for knob in ("PANIC", "HANG", "FAIL", "WARN"):
        monkeypatch.delenv(knob, raising=False)
    return FakeFarm(tmp_path, tmp_path / "matrix.toml", tmp_path / "linux-source-6.12.tar.xz", tmp_path / "cache")
