"""The pipeline's decisions with fake stages (no kernel, no VM): what fails, what is written, what stops.

FakeStages stands in for farm.stages.LocalStages the way kunit's tests stand a
mock in for its LinuxSourceTree: every side effect is recorded, and knobs
make a chosen stage fail, raise or be interrupted.
"""

from __future__ import annotations

import hashlib
import os
import textwrap
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import junitparser
import pytest

import cli
from farm import cellrun, pipeline
from farm.host.cache import Cache
from farm.kernel.build import Built
from farm.model import matrix
from farm.model.arches import Arch
from farm.model.errors import InfraError, UserError, ZpfarmError
from farm.model.guest_settings import GuestSettings
from farm.model.matrix import Cell, Kernel, Runtime, Source
from farm.model.programs import GuestTest
from farm.model.results import Booted, Report, Status, Suite, TestResult
from farm.options import Options
from farm.report import junit
from farm.stages import CellBuild, GuestImage, GuestPrograms
from farm.trees import Tree

GOOD_KTAP = "KTAP version 1\n1..2\nok 1 runtime\n    # Subtest: memory\n    1..1\n    ok 1 read_hole\nok 2 memory\n"


def write_matrix(tmp_path: Path, arches: str = '["x86_64"]', runtimes: str = "") -> matrix.Matrix:
    (tmp_path / "kernel-series").mkdir(exist_ok=True)
    (tmp_path / "testcases").mkdir(exist_ok=True)
    (tmp_path / "testcases" / "memory.c").write_text("int main(void) { return 0; }\n")
    (tmp_path / "testcases" / "expectations.toml").write_text("")
    (tmp_path / "on.config").write_text("CONFIG_TRANSPARENT_HUGEPAGE=y\n")
    path = tmp_path / "matrix.toml"
    path.write_text(
        textwrap.dedent(f"""
        [axes]
        kernel = ["base", "series"]
        arch = {arches}
        kconfig = ["on"]
        [kconfig.on]
        fragments = ["on.config"]
        [runtime.default]
        """)
        + runtimes
    )
    return matrix.load(path)


@dataclass
class FakeStages:
    """Stages that do nothing real; knobs choose what breaks."""

    tmp: Path
    series_error: ZpfarmError | None = None
    series_error_source: str | None = None  # only this source's series fails (default: every source's)
    build_fails: set[str] = field(default_factory=set)  # cell names whose kernel does not compile
    build_raises: dict[str, ZpfarmError] = field(default_factory=dict)
    rootfs_error: ZpfarmError | None = None
    ktap: str = GOOD_KTAP
    console: str = "Linux version 6.12.117\nreboot: Power down\n"
    finished: bool = True
    on_boot: Callable[[str], None] | None = None  # called with "cell/runtime" before each boot returns
    booted: list[str] = field(default_factory=list)
    built: list[str] = field(default_factory=list)
    programs_for: list[str] = field(default_factory=list)  # arches guest_programs was asked for
    selftests: tuple[GuestTest, ...] = ()  # what build gives back as the cell's selftests
    boot_programs: dict[str, list[str]] = field(default_factory=dict)  # "cell/runtime": programs booted with
    stopped: int = 0
    build_dirs: bool = False  # the image in an O= directory beside a .config and vmlinux, as real builds leave it

    def prepare_trees(
        self, wanted: Collection[tuple[Source, Kernel]]
    ) -> Mapping[tuple[Source, Kernel], Tree | ZpfarmError]:
        trees: dict[tuple[Source, Kernel], Tree | ZpfarmError] = {}
        for src, k in wanted:
            broken = self.series_error_source in (None, src.name)
            error = self.series_error if k is Kernel.SERIES and broken else None
            trees[src, k] = error or Tree(self.tmp, f"{k.value}-commit", "hash" if k is Kernel.SERIES else "")
        return trees

    def guest_programs(self, arch: Arch) -> GuestPrograms:
        self.programs_for.append(arch.name)
        return GuestPrograms(self.tmp / "runner", (GuestTest("memory", ("./memory",), (), 60.0),))

    def build(self, cell: Cell, tree: Tree, progress: Callable[[str], None]) -> CellBuild:
        self.built.append(cell.name)
        if cell.name in self.build_raises:
            raise self.build_raises[cell.name]
        log = self.tmp / f"{cell.name}.log"
        log.write_text("mm/shmem.c:1:1: error: expected ';'\n")
        ok = cell.name not in self.build_fails
        message = "built" if ok else "build failed: mm/shmem.c:1:1: error: expected ';'"
        image = self.tmp / "bzImage"
        if self.build_dirs:
            image = self.tmp / "build" / cell.name / cell.arch.image
            image.parent.mkdir(parents=True, exist_ok=True)
            image.write_bytes(b"image")
            (self.tmp / "build" / cell.name / ".config").write_text(f"CONFIG_{cell.name.upper().replace('-', '_')}=y\n")
            (self.tmp / "build" / cell.name / "vmlinux").write_bytes(b"\x7fELF")
        return CellBuild(Built(ok, image if ok else None, "6.12.117", 0, 1.0, log, message), self.selftests)

    def rootfs(self, arch: Arch) -> Path | None:
        if self.rootfs_error:
            raise self.rootfs_error
        return None

    def boot(self, cell: Cell, runtime: Runtime, guest: GuestImage, tests: Sequence[GuestTest], where: Path) -> Booted:
        name = f"{cell.name}/{runtime.name}"
        self.booted.append(name)
        self.boot_programs[name] = [t.name for t in tests]
        if self.on_boot:
            self.on_boot(name)
        console = where / "console.log"
        console.parent.mkdir(parents=True, exist_ok=True)
        console.write_text(self.console)
        return Booted(0, 1.0, False, self.finished, self.ktap, console, "tcg")

    def stop(self) -> None:
        self.stopped += 1

    def hold_trees(self, waiting: Callable[[], None]) -> AbstractContextManager[None]:
        return nullcontext()


class Recorder:
    """A Reporter that keeps what it is told."""

    def __init__(self) -> None:
        self.done: list[Suite] = []
        self.notices: list[str] = []

    def notice(self, text: str) -> None:
        self.notices.append(text)

    def phase(self, cell: str, phase: str, detail: str = "") -> None:
        pass

    def line(self, cell: str, text: str) -> None:
        pass

    def suite_done(self, suite: Suite) -> None:
        self.done.append(suite)


def run(tmp_path: Path, stages: FakeStages, m: matrix.Matrix | None = None, **options: object) -> Report:
    m = m or write_matrix(tmp_path)
    opts = pipeline.options(m, m.cells, Cache(tmp_path / "cache"), tmp_path / "out", tmp_path / "junit.xml")
    return pipeline.run(Options(**{**opts.__dict__, **options}), Recorder(), stages)


def statuses(report: Report) -> dict[str, list[tuple[str, Status]]]:
    return {s.name: [(c.name, c.status) for c in s.cases] for s in report.suites}


def test_a_clean_run_boots_every_cell_and_exits_0(tmp_path: Path) -> None:
    stages = FakeStages(tmp_path)
    report = run(tmp_path, stages)
    assert stages.booted == ["base-x86_64-on/default", "series-x86_64-on/default"]
    assert statuses(report)["series-x86_64-on/default"] == [("runtime", Status.PASS), ("memory.read_hole", Status.PASS)]
    assert cli.exit_code(report) == 0
    props = report.suites[1].properties
    assert props["commit"] == "series-commit" and props["accel"] == "tcg" and "--cell" in props["reproducer"]


def test_the_reproducer_names_no_path_of_this_machine_and_a_test_step_names_its_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from farm.model.suite_facts import BuildFacts, SuiteFacts

    monkeypatch.chdir(tmp_path)
    stages = FakeStages(tmp_path)
    props = run(tmp_path, stages).suites[1].properties
    assert props["reproducer"] == "zpfarm run --matrix matrix.toml --cell series-x86_64-on/default --accel tcg"
    assert props["guest_cpus"] == "2" and props["guest_memory"] == "2G"
    monkeypatch.chdir("/")  # a path relative to / would be this machine's: the name alone
    m = write_matrix(tmp_path)
    opts = pipeline.options(m, m.cells, Cache(tmp_path / "cache"), tmp_path / "out", tmp_path / "junit.xml")
    booted = BuildFacts("c", "h", key="00000000000000a1", artifact="00000000000000a1.tar.zst", artifact_sha256="f")
    facts = SuiteFacts("x86_64", "on", "series", "v7.3.4", build=booted, accel="kvm")
    assert cellrun.reproducer(opts, m.cells[1], "series-x86_64-on/default", facts) == (
        "zpfarm test --matrix matrix.toml --cell series-x86_64-on/default --kernel 00000000000000a1.tar.zst --accel kvm"
    )
    assert {"build_key", "artifact", "artifact_sha256"} <= facts.properties().keys()


def test_a_series_that_does_not_apply_fails_only_the_series_cells_as_bad_input(tmp_path: Path) -> None:
    stages = FakeStages(tmp_path, series_error=UserError("0004-shmem.patch does not apply to v6.12.117"))
    report = run(tmp_path, stages)
    assert stages.built == ["base-x86_64-on"] and stages.booted == ["base-x86_64-on/default"]
    assert statuses(report)["series-x86_64-on/default"] == [("build", Status.INPUT)]
    assert cli.exit_code(report) == 2


def test_a_kernel_that_does_not_compile_is_a_build_failure_exit_1_not_infrastructure(tmp_path: Path) -> None:
    stages = FakeStages(tmp_path, build_fails={"series-x86_64-on"})
    report = run(tmp_path, stages)
    (case,) = report.suites[1].cases
    assert (case.name, case.status) == ("build", Status.BUILD)
    assert "expected ';'" in case.message and "expected ';'" in case.output  # the log tail
    assert stages.booted == ["base-x86_64-on/default"]
    assert cli.exit_code(report) == 1


@pytest.mark.parametrize(
    ("error", "status", "code"), [(InfraError("ccache"), Status.INFRA, 3), (UserError("x"), Status.INPUT, 2)]
)
def test_a_build_that_raises_is_its_cells_error(tmp_path: Path, error: ZpfarmError, status: Status, code: int) -> None:
    stages = FakeStages(tmp_path, build_raises={"base-x86_64-on": error})
    report = run(tmp_path, stages)
    assert statuses(report)["base-x86_64-on/default"] == [("build", status)]
    assert stages.booted == ["series-x86_64-on/default"]  # the other cell still runs
    assert cli.exit_code(report) == code


def test_a_rootfs_error_fails_the_cell_as_infrastructure(tmp_path: Path) -> None:
    stages = FakeStages(tmp_path, rootfs_error=InfraError("mmdebstrap could not make the arm64 root filesystem"))
    report = run(tmp_path, stages)
    assert all(cases == [("rootfs", Status.INFRA)] for cases in statuses(report).values())
    assert stages.booted == []
    assert cli.exit_code(report) == 3


def test_the_junit_is_rewritten_after_each_suite(tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def read_junit(_: str) -> None:
        path = tmp_path / "junit.xml"
        seen.append([s.name for s in junitparser.JUnitXml.fromfile(str(path))] if path.exists() else [])

    run(tmp_path, FakeStages(tmp_path, on_boot=read_junit))
    assert seen == [[], ["base-x86_64-on/default"]]


def test_ctrl_c_stops_everything_and_marks_what_did_not_finish(tmp_path: Path) -> None:
    def interrupt(name: str) -> None:
        if name.startswith("series"):
            raise KeyboardInterrupt

    stages = FakeStages(tmp_path, on_boot=interrupt)
    report = Report()
    m = write_matrix(tmp_path)
    opts = pipeline.options(m, m.cells, Cache(tmp_path / "cache"), tmp_path / "out", tmp_path / "junit.xml")
    with pytest.raises(KeyboardInterrupt):
        pipeline.run(opts, Recorder(), stages, report)
    assert stages.stopped == 1
    assert report.junit == tmp_path / "junit.xml"
    suites = {s.name: s for s in junitparser.JUnitXml.fromfile(str(report.junit))}
    assert suites["base-x86_64-on/default"].errors == 0
    assert suites["series-x86_64-on/default"].errors == 1  # interrupted, never a pass


def test_an_interruption_before_the_first_suite_writes_beside_an_earlier_junit(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text("<testsuites/>\n")  # an earlier run's

    def interrupt(name: str) -> None:
        raise KeyboardInterrupt

    m = write_matrix(tmp_path)
    opts = pipeline.options(m, m.cells, Cache(tmp_path / "cache"), tmp_path / "out", tmp_path / "junit.xml")
    report = Report()
    with pytest.raises(KeyboardInterrupt):
        pipeline.run(opts, Recorder(), FakeStages(tmp_path, on_boot=interrupt), report)
    assert (tmp_path / "junit.xml").read_text() == "<testsuites/>\n"
    assert report.junit == tmp_path / "junit.error.xml"
    assert len(list(junitparser.JUnitXml.fromfile(str(report.junit)))) == 2


def test_a_guest_that_stopped_early_names_what_never_ran_once(tmp_path: Path) -> None:
    ktap = "KTAP version 1\n1..3\nok 1 runtime\n    # Subtest: memory\n    1..2\n    ok 1 read_hole\n"
    console = "Linux version 6.12.117\nKernel panic - not syncing: Fatal exception\n"
    stages = FakeStages(tmp_path, ktap=ktap, console=console, finished=False)
    report = run(tmp_path, stages)
    names = [n for n, _ in statuses(report)["base-x86_64-on/default"]]
    assert "memory.read_hole" in names and "memory.#2" in names  # the crashed program's own results
    assert "boot" in names and not any(n.startswith("#") for n in names)  # no phantom program
    assert cli.exit_code(report) == 1


@pytest.mark.parametrize(
    ("statuses_", "code"),
    [
        ((Status.PASS, Status.XFAIL, Status.SKIP), 0),
        ((Status.PASS, Status.FAIL), 1),
        ((Status.CRASH,), 1),
        ((Status.BUILD,), 1),
        ((Status.FAIL, Status.INFRA), 3),
        ((Status.INFRA, Status.INPUT, Status.FAIL), 2),
        ((), 0),
    ],
)
def test_exit_code_table(statuses_: tuple[Status, ...], code: int) -> None:
    from datetime import UTC, datetime

    cases = tuple(TestResult(f"t{i}", s) for i, s in enumerate(statuses_))
    report = Report([Suite("base-x86_64-on/default", cases, {}, "", datetime.now(UTC), 0.0)])
    assert cli.exit_code(report) == code


def test_an_unknown_test_name_is_bad_input_before_any_stage_runs(tmp_path: Path) -> None:
    m = write_matrix(tmp_path)
    for name in ("memroy", "selftests-mm-cwo", "selftests-nope"):
        with pytest.raises(UserError, match="selects no test program"):
            pipeline.options(m, m.cells, Cache(tmp_path / "c"), tmp_path / "o", tmp_path / "j.xml", tests=[name])
    for name in ("memory", "selftests", "selftests-mm-uffd-unit-tests"):
        pipeline.options(m, m.cells, Cache(tmp_path / "c"), tmp_path / "o", tmp_path / "j.xml", tests=[name])


def test_the_series_own_selftest_is_a_known_name_once_its_patch_adds_it(tmp_path: Path) -> None:
    m = write_matrix(tmp_path)
    args = (m, m.cells, Cache(tmp_path / "c"), tmp_path / "o", tmp_path / "j.xml")
    with pytest.raises(UserError, match="'selftests-mm-shmem_zeropage': selects no test program"):
        pipeline.options(*args, tests=["selftests-mm-shmem_zeropage"])
    new = "tools/testing/selftests/mm/shmem_zeropage.c"
    (tmp_path / "kernel-series" / "0001-t.patch").write_text(f"diff --git a/{new} b/{new}\nnew file mode 100644\n")
    (tmp_path / "kernel-series" / "series").write_text("0001-t.patch\n")
    assert pipeline.options(*args, tests=["selftests-mm-shmem_zeropage"]).selection.names


def test_a_runtime_naming_an_unknown_test_is_bad_input(tmp_path: Path) -> None:
    m = write_matrix(tmp_path, runtimes='[runtime.odd]\ntests = ["memroy"]\n')
    with pytest.raises(UserError, match=r"\[runtime.odd\] tests: 'memroy'"):
        pipeline.options(m, m.cells, Cache(tmp_path / "c"), tmp_path / "o", tmp_path / "j.xml")


def test_a_runtime_reads_its_tests_as_test_names_setup_step_included(tmp_path: Path) -> None:
    m = write_matrix(tmp_path, runtimes='[runtime.st]\ntests = ["selftests-mm-uffd-unit-tests"]\n')
    names = ["selftests-setup", "selftests-mm-cow", "selftests-mm-uffd-unit-tests-zeropage"]
    stages = FakeStages(tmp_path, selftests=tuple(GuestTest(n, (n,), (), 60.0) for n in names))
    run(tmp_path, stages, m)
    assert stages.boot_programs["base-x86_64-on/default"] == ["memory", *names]
    # a group name selects its runs, and the selftests' setup step comes with them
    assert stages.boot_programs["base-x86_64-on/st"] == ["selftests-setup", "selftests-mm-uffd-unit-tests-zeropage"]


def test_two_jobs_boot_two_guests_at_once_and_record_every_suite(tmp_path: Path) -> None:
    running, peak, lock = [0], [0], threading.Lock()

    def overlap(_: str) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1

    m = write_matrix(tmp_path, arches='["x86_64", "arm64"]')
    stages = FakeStages(tmp_path, on_boot=overlap)
    report = run(tmp_path, stages, m, jobs=2)
    assert peak[0] == 2
    assert stages.programs_for == ["x86_64", "arm64"]  # the guest programs are built once per arch
    assert sorted(s.name for s in report.suites) == sorted(f"{c.name}/default" for c in m.cells)
    assert len(junitparser.JUnitXml.fromfile(str(tmp_path / "junit.xml"))) == 4


def test_several_jobs_start_the_longest_boots_of_the_last_run_first(tmp_path: Path) -> None:
    """A long guest left alone at the end idles the other slots: boot (and build) it first."""
    m = write_matrix(tmp_path, arches='["x86_64", "arm64"]', runtimes="[runtime.second]\n")
    last = {"series-arm64-on/default": 300.0, "base-x86_64-on/second": 200.0, "base-arm64-on/default": 5.0}
    suites = [
        Suite(name, (TestResult("runtime", Status.PASS),), {}, "", datetime.now(UTC), t) for name, t in last.items()
    ]
    junit.write(tmp_path / "junit.xml", suites)  # the others have no time yet: they may be long
    opts = pipeline.options(m, m.cells, Cache(tmp_path / "cache"), tmp_path / "out", tmp_path / "junit.xml")

    cells, boots = pipeline.boot_order(replace(opts, jobs=2))
    names = [f"{cell.name}/{rt.name}" for cell, rt in boots]
    untimed = [f"{c.name}/{rt.name}" for c in m.cells for rt in c.runtimes if f"{c.name}/{rt.name}" not in last]
    assert names == [*untimed, *last]  # untimed first in matrix order, then longest first
    assert [c.name for c in cells] == ["base-x86_64-on", "series-x86_64-on", "base-arm64-on", "series-arm64-on"]
    stages = FakeStages(tmp_path)
    run(tmp_path, stages, m, jobs=2)
    assert sorted(stages.booted) == sorted(names)

    cells, boots = pipeline.boot_order(replace(opts, jobs=1))  # one at a time: matrix order, each as built
    assert cells == list(m.cells) and boots == [(c, rt) for c in m.cells for rt in c.runtimes]


def test_the_longest_cell_is_built_first_when_several_jobs_boot(tmp_path: Path) -> None:
    m = write_matrix(tmp_path)
    suites = [Suite("series-x86_64-on/default", (TestResult("runtime", Status.PASS),), {}, "", datetime.now(UTC), 9.0)]
    suites.append(replace(suites[0], name="base-x86_64-on/default", elapsed=1.0))
    junit.write(tmp_path / "junit.xml", suites)
    stages = FakeStages(tmp_path)
    run(tmp_path, stages, m, jobs=2)
    assert stages.built == ["series-x86_64-on", "base-x86_64-on"]


@pytest.mark.parametrize(
    ("cpus", "memory", "cores", "host_gib", "jobs"),
    [(2, "2G", 2, 24, 1), (1, "2G", 2, 24, 2), (2, "2G", 16, 24, 8), (2, "4G", 16, 24, 4), (4, "2G", 2, 24, 1)],
)
def test_default_jobs_are_sized_by_vcpus_and_memory(
    cpus: int, memory: str, cores: int, host_gib: int, jobs: int
) -> None:
    guest = GuestSettings(memory=memory, cpus=cpus)
    assert pipeline.default_jobs(guest, cores=cores, memory=host_gib << 30) == jobs


def test_a_measured_use_per_guest_sizes_the_pool_instead_of_its_vcpus() -> None:
    guest = GuestSettings(memory="2G", cpus=2)
    assert pipeline.default_jobs(guest, cores=16, memory=64 << 30, cores_per_guest=1.15) == 13
    assert pipeline.default_jobs(guest, cores=64, memory=16 << 30, cores_per_guest=0.5) == 6  # memory still counts


def test_two_bases_in_one_run_fail_and_report_separately(tmp_path: Path) -> None:
    m = write_matrix(tmp_path)
    for name in ("7.3", "6.12"):
        (tmp_path / f"series-{name}").mkdir()
    body = m.path.read_text().replace(
        "[axes]",
        '[sources."v7.3"]\nbase = "v7.3.4"\nseries = "series-7.3"\n'
        '[sources."v6.12"]\nbase = "v6.12.117"\nseries = "series-6.12"\n[axes]',
    )
    m.path.write_text(body)
    two = matrix.load(m.path)
    error = UserError("0007-shmem.patch does not apply to v7.3.4")
    report = run(tmp_path, FakeStages(tmp_path, series_error=error, series_error_source="v7.3"), two)
    assert statuses(report)["series-x86_64-on-v7.3/default"] == [("build", Status.INPUT)]
    assert statuses(report)["series-x86_64-on-v6.12/default"][-1] == ("memory.read_hole", Status.PASS)
    assert {s.properties["base"] for s in report.suites} == {"v7.3.4", "v6.12.117"}


def test_a_build_only_cell_is_refused_before_any_stage_runs(tmp_path: Path) -> None:
    m = write_matrix(tmp_path, arches='["x86_64", "s390"]')
    assert [c.name for c in m.cells if not c.runtimes] == ["base-s390-on", "series-s390-on"]
    stages = FakeStages(tmp_path)
    with pytest.raises(UserError, match=r"^cell base-s390-on is build-only \(the farm cannot boot s390\)"):
        run(tmp_path, stages, m)
    assert (stages.built, stages.booted, stages.programs_for) == ([], [], [])
    assert not (tmp_path / "junit.xml").exists()
    report = run(tmp_path, stages, replace(m, cells=m.select(["*-x86_64-*"])))  # --cell leaves them out
    assert stages.booted == ["base-x86_64-on/default", "series-x86_64-on/default"]
    assert cli.exit_code(report) == 0


def test_an_interrupted_suite_keeps_the_programs_its_guest_had_finished(tmp_path: Path) -> None:
    """Ctrl-C mid-suite dropped what the guest had already written to its share."""
    out = tmp_path / "out"
    stale = out / "base-x86_64-on" / "default" / "share" / "results.ktap"  # an earlier run's, never booted now
    stale.parent.mkdir(parents=True)
    stale.write_text("KTAP version 1\n1..1\nok 1 stale_earlier_run\n")
    os.utime(stale, (0, 0))

    def interrupt(name: str) -> None:
        if name.startswith("series"):
            share = out / "series-x86_64-on" / "default" / "share"
            share.mkdir(parents=True)
            (share / "results.ktap").write_text(
                "KTAP version 1\n1..2\n    # Subtest: memory\n    KTAP version 1\n    1..2\n"
                "    ok 1 read_hole\n    not ok 2 fill_hole\n"  # the stop came before memory's own line
            )
            raise KeyboardInterrupt

    m = write_matrix(tmp_path)
    opts = pipeline.options(m, m.cells, Cache(tmp_path / "cache"), out, tmp_path / "junit.xml")
    stages = FakeStages(tmp_path, on_boot=interrupt)
    os.utime(stale, (0, 0))
    with pytest.raises(KeyboardInterrupt):
        pipeline.run(opts, Recorder(), stages, Report())
    suites = {s.name: {c.name: c for c in s} for s in junitparser.JUnitXml.fromfile(str(tmp_path / "junit.xml"))}
    series = suites["series-x86_64-on/default"]
    assert set(series) == {"memory.read_hole", "memory.fill_hole", "interrupted"}
    assert not series["memory.read_hole"].result and series["memory.fill_hole"].result[0].type == "fail"
    assert "stale_earlier_run" not in str(suites)


def test_a_coverage_cell_zeroes_gcov_first_copies_it_last_and_reports_its_numbers(tmp_path: Path) -> None:
    m = write_matrix(tmp_path)
    cells = tuple(
        replace(c, kconfig=replace(c.kconfig, coverage=True)) if c.kernel is Kernel.SERIES else c for c in m.cells
    )

    class Measured(FakeStages):
        def boot(
            self, cell: Cell, runtime: Runtime, guest: GuestImage, tests: Sequence[GuestTest], where: Path
        ) -> Booted:
            booted = super().boot(cell, runtime, guest, tests, where)
            return replace(booted, properties=(("coverage_mm_percent", "91.5"),) if cell.kconfig.coverage else ())

    stages = Measured(tmp_path)
    report = run(tmp_path, stages, replace(m, cells=cells), cells=cells)
    assert stages.boot_programs["series-x86_64-on/default"] == ["gcov-reset", "memory", "gcov-copy"]
    assert stages.boot_programs["base-x86_64-on/default"] == ["memory"]
    by_name = {s.name: s.properties for s in report.suites}
    assert by_name["series-x86_64-on/default"]["coverage_mm_percent"] == "91.5"
    assert "coverage_mm_percent" not in by_name["base-x86_64-on/default"]


def test_a_full_disk_mid_run_keeps_every_suite_in_a_spare_place_and_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = tmp_path / "junit.xml"
    real_write = junit.write

    def no_space_at_the_asked_path(path: Path, suites: Sequence[Suite]) -> None:
        if path == full and len(suites) > 1:  # the disk fills after the first suite
            raise InfraError(f"{path}: could not write it (No space left on device)")
        real_write(path, suites)

    monkeypatch.setattr(junit, "write", no_space_at_the_asked_path)
    spare, not_a_directory = tmp_path / "spare", tmp_path / "a-file"
    not_a_directory.write_text("")  # the first spare place fails too
    monkeypatch.setattr(junit.write_somewhere, "__defaults__", ((not_a_directory, spare),))
    report = run(tmp_path, FakeStages(tmp_path))
    assert report.junit is not None and report.junit.parent == spare
    assert [s.name for s in junitparser.JUnitXml.fromfile(str(report.junit))] == [s.name for s in report.suites]
    assert len(report.suites) == 2 and "No space left on device" in report.junit_problem
    assert cli.exit_code(report) == 3  # every test passed, but the JUnit is not where CI looks


def test_each_suite_records_its_config_and_where_its_vmlinux_and_tree_are(tmp_path: Path) -> None:
    """What the reply mail's header and decoded console excerpts read back from the JUnit."""
    report = run(tmp_path, FakeStages(tmp_path, build_dirs=True))
    for suite in report.suites:
        cell = suite.name.split("/")[0]
        config = tmp_path / "build" / cell / ".config"
        assert suite.properties["config_sha256"] == hashlib.sha256(config.read_bytes()).hexdigest()
        assert suite.properties["vmlinux"] == str(tmp_path / "build" / cell / "vmlinux")
        assert suite.properties["source_tree"] == str(tmp_path)
        assert suite.properties["config_fragments"].startswith("base-x86_64.config")
    (tmp_path / "plain").mkdir()
    plain = run(tmp_path / "plain", FakeStages(tmp_path))  # an image outside an O= directory: nothing guessed
    assert not {"config_sha256", "vmlinux"} & set(plain.suites[0].properties)


def test_a_suite_carries_what_the_run_history_keys_it_by(tmp_path: Path) -> None:
    class Series(FakeStages):
        def prepare_trees(
            self, wanted: Collection[tuple[Source, Kernel]]
        ) -> Mapping[tuple[Source, Kernel], Tree | ZpfarmError]:
            facts = {"series_id": "identity", "base_commit": "base-commit", "series_name": "v3"}
            facts |= {"patch_ids": ("a" * 40, "b" * 40)}
            found = super().prepare_trees(wanted)
            return {
                w: replace(t, **facts) if isinstance(t, Tree) and w[1] is Kernel.SERIES else t for w, t in found.items()
            }

    base, series = run(tmp_path, Series(tmp_path), write_matrix(tmp_path)).suites
    props = series.properties
    assert (props["base_commit"], props["series"], props["patch_ids"]) == (
        "base-commit",
        "v3",
        f"{'a' * 40} {'b' * 40}",
    )
    assert "series" not in base.properties and "patch_ids" not in base.properties and props["series_id"] == "identity"
    assert props["host"].startswith(f"{os.uname().nodename} ({os.uname().machine}, ")  # which machine ran it
