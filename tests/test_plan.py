"""farm.plan: build keys, rows, limits, JSON for the CI engines (no compiler needed)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import FakeFarm

from farm import plan as plan_mod
from farm.kernel import artifact
from farm.model import arches, matrix
from farm.model import plan as plan_values
from farm.model.arches import Arch
from farm.model.errors import UserError
from farm.model.plan import Runner, Stage, SweepRow, Toolchain

ROOT = Path(__file__).resolve().parent.parent

BODY = """
[source]
tarball = "linux-source-6.12.tar.xz"
base = "v6.12.117"
[axes]
kernel = ["base", "series"]
arch = ["x86_64", "arm64"]
kconfig = ["on", "off"]
[kconfig.on]
fragments = ["on.config"]
[kconfig.off]
fragments = ["off.config"]
[runtime.default]
[runtime.always]
kconfigs = ["on"]
tests = ["memory", "coherence"]
sysfs = { "kernel/mm/transparent_hugepage/shmem_enabled" = "always" }
[guest]
boot_timeout = 300
test_timeout = 600
"""


def write(tmp_path: Path, body: str = BODY) -> Path:
    (tmp_path / "kernel-series").mkdir(exist_ok=True)
    (tmp_path / "kernel-series" / "series").write_text("0001-a.patch\n")
    (tmp_path / "kernel-series" / "0001-a.patch").write_text("patch one\n")
    (tmp_path / "testcases").mkdir(exist_ok=True)
    (tmp_path / "on.config").write_text("CONFIG_TRANSPARENT_HUGEPAGE=y\n")
    (tmp_path / "off.config").write_text("# CONFIG_TRANSPARENT_HUGEPAGE is not set\n")
    path = tmp_path / "matrix.toml"
    path.write_text(body)
    return path


def fake_gcc(version: str = "gcc (Debian 12.2.0-14) 12.2.0") -> plan_values.ToolchainProbe:
    def probe(arch: Arch) -> Toolchain:
        return Toolchain(f"{arch.cross_compile}gcc", version)

    return probe


def make(m: matrix.Matrix, **kw: object) -> plan_values.Plan:
    return plan_mod.make(m, m.cells, toolchain=fake_gcc(), **kw)  # type: ignore[arg-type]


def test_rows_one_build_per_cell_one_test_per_runtime(tmp_path: Path) -> None:
    m = matrix.load(write(tmp_path))
    p = make(m)
    assert [b.cell for b in p.builds] == [c.name for c in m.cells]  # 8 cells, 8 kernels
    assert len({b.key for b in p.builds}) == 8
    assert all(len(b.key) == artifact.KEY_LENGTH for b in p.builds)
    suites = [t.suite for t in p.tests]
    assert "base-x86_64-on/always" in suites and "base-x86_64-off/default" in suites
    assert "base-x86_64-off/always" not in suites
    assert len(suites) == 12  # 4 thp-on cells x 2 runtimes + 4 thp-off cells x 1
    on = {t.runtime: t for t in p.tests if t.cell == "series-x86_64-on"}
    assert on["default"].key == on["always"].key  # runtime variants share their cell's build
    keys = {b.cell: b.key for b in p.builds}
    assert keys["base-x86_64-on"] != keys["base-x86_64-off"]  # thp-on and thp-off are different builds
    assert keys["base-x86_64-on"] != keys["series-x86_64-on"]
    assert keys["base-x86_64-on"] != keys["base-arm64-on"]
    assert p.test("base-arm64-on/always").arch == "arm64"


def test_kvm_and_timeouts_by_runner(tmp_path: Path) -> None:
    m = matrix.load(write(tmp_path))
    p = make(m)
    x86, arm = p.test("base-x86_64-on/default"), p.test("base-arm64-on/default")
    assert x86.wants_kvm and not arm.wants_kvm  # hosted runners are x86_64: arm64 runs under TCG
    assert x86.timeout == 45  # (300 + 3 x 600 + 600 setup) / 60
    assert arm.timeout == 98  # (300 + 3 x 600) x 2.5 + 600, rounded up
    assert p.test("base-x86_64-on/always").timeout == 35  # two programs: 300 + 2 x 600 + 600
    assert x86.runs_on == arm.runs_on == ("ubuntu-latest",)
    own = {"arm64": Runner(("self-hosted", "arm64", "kvm"), "aarch64")}
    p2 = make(m, runners=own)
    arm2 = p2.test("base-arm64-on/default")
    assert arm2.wants_kvm and arm2.timeout == 45 and arm2.runs_on == ("self-hosted", "arm64", "kvm")
    assert [b.key for b in p2.builds] == [b.key for b in p.builds]  # where tests run is not the kernel
    slow = replace(m, guest=replace(m.guest, test_timeout=100_000.0))
    assert make(slow).test("base-arm64-on/default").timeout == plan_mod.MAX_TIMEOUT_MIN


def test_key_follows_every_input(tmp_path: Path) -> None:
    m = matrix.load(write(tmp_path))
    cell = next(c for c in m.cells if c.name == "series-x86_64-on")
    gcc = Toolchain("gcc", "gcc (Debian 12.2.0-14) 12.2.0")
    key = plan_mod.build_key(cell, m.source, gcc, "abc")
    assert key == plan_mod.build_key(cell, m.source, gcc, "abc")  # stable
    assert key != plan_mod.build_key(cell, m.source, Toolchain("gcc", "gcc 13.1"), "abc")
    assert key != plan_mod.build_key(cell, m.source, Toolchain("x86_64-linux-gnu-gcc", gcc.version), "abc")
    assert key != plan_mod.build_key(cell, m.source, gcc, "abd")  # another series
    assert key != plan_mod.build_key(cell, replace(m.source, base="v6.12.118"), gcc, "abc")
    other_tar = replace(m.source, tarball=Path("/elsewhere/linux-source-6.13.tar.xz"))
    assert key != plan_mod.build_key(cell, other_tar, gcc, "abc")
    same_name = replace(m.source, tarball=Path("/elsewhere/linux-source-6.12.tar.xz"))
    assert key == plan_mod.build_key(cell, same_name, gcc, "abc")  # where the tarball lies is not the kernel
    (tmp_path / "on.config").write_text("CONFIG_TRANSPARENT_HUGEPAGE=y\nCONFIG_X=y\n")
    assert key != plan_mod.build_key(cell, m.source, gcc, "abc")  # fragment contents count
    base = next(c for c in m.cells if c.name == "base-x86_64-on")
    with pytest.raises(ValueError, match="series identity"):
        plan_mod.build_key(base, m.source, gcc, "abc")


def test_series_hash_comes_from_the_series(tmp_path: Path) -> None:
    m = matrix.load(write(tmp_path))
    before = {b.cell: b.key for b in make(m).builds}
    (tmp_path / "kernel-series" / "0001-a.patch").write_text("patch one, version two\n")
    after = {b.cell: b.key for b in make(m).builds}
    assert before["base-x86_64-on"] == after["base-x86_64-on"]
    assert before["series-x86_64-on"] != after["series-x86_64-on"]


def test_the_default_matrix_plans_with_the_base_config_in_the_key() -> None:
    m = matrix.load(ROOT / "matrix.toml")
    p = plan_mod.make(m, m.cells, toolchain=fake_gcc(), series_id="0" * 64)
    assert len(p.builds) == len(m.cells) == 9
    assert len(p.tests) == sum(len(c.runtimes) for c in m.cells) == 21
    assert [r.toolchain for r in p.sweeps] == [t.name for t in m.sweep.toolchains] and len(p.sweeps) == 8  # type: ignore[union-attr]
    assert len(p.to_json().encode()) < 20_000


def test_json_round_trip_and_stages(tmp_path: Path) -> None:
    m = matrix.load(write(tmp_path))
    p = make(m)
    whole = json.loads(p.to_json())
    assert set(whole) == {"build", "test", "sweep"} and whole["sweep"] == {"include": []}  # no [sweep] declared
    assert json.loads(p.to_json(Stage.BUILD)) == whole["build"]
    row = json.loads(p.to_json(Stage.TEST))["include"][0]
    assert set(row) == {"suite", "cell", "runtime", "key", "arch", "wants_kvm", "timeout", "runs_on"}
    assert row["runs_on"] == ["ubuntu-latest"]
    path = tmp_path / "plan.json"
    path.write_text(p.to_json())
    assert plan_values.load(path) == p
    path.write_text('{"build": {"include": [{"key": 1}]}}')
    with pytest.raises(UserError, match="not a zpfarm plan"):
        plan_values.load(path)
    with pytest.raises(UserError, match="no build 'nope'"):
        p.build("nope")


def test_over_the_engine_limit_says_how_to_shard(tmp_path: Path) -> None:
    runtimes = "".join(f"[runtime.r{i}]\n" for i in range(30))
    m = matrix.load(write(tmp_path, BODY.replace("[runtime.default]\n", runtimes)))
    with pytest.raises(UserError, match=r"244 test rows, over the 200 .* --cell") as e:
        make(m)
    assert "\n" not in str(e.value)
    plan_mod.make(m, m.select(["base-*"]), toolchain=fake_gcc())  # a shard fits


def test_a_build_only_cell_is_refused_in_one_line_before_any_probe(tmp_path: Path) -> None:
    body = BODY + '[[include]]\nkernel = "series"\narch = "s390"\nkconfig = "on"\n'
    m = matrix.load(write(tmp_path, body))

    def no_probe(arch: Arch) -> Toolchain:
        raise AssertionError(f"probed {arch.cc} for a plan that is refused")

    with pytest.raises(UserError, match=r"^cell series-s390-on is build-only .*`zpfarm build-each` builds it"):
        plan_mod.make(m, m.cells, toolchain=no_probe)
    bootable = m.select(["*-x86_64-*", "*-arm64-*"])
    assert [b.cell for b in make(replace(m, cells=bootable)).builds] == [c.name for c in bootable]


def test_parse_runner() -> None:
    assert plan_values.parse_runner("arm64=self-hosted,arm64") == ("arm64", Runner(("self-hosted", "arm64"), "aarch64"))
    assert plan_values.parse_runner("aarch64=big@x86_64") == ("arm64", Runner(("big",), "x86_64"))
    for bad in ("arm64", "arm64=", "sparc=x"):
        with pytest.raises(UserError):
            plan_values.parse_runner(bad)


def test_probe_toolchain_reads_the_version_line() -> None:
    arch = next(a for a in arches.ARCHES.values() if a.native) if _native() else None
    if arch is None:
        pytest.skip("no native arch")
    tc = plan_mod.probe_toolchain(arch)
    assert tc.cc == "gcc" and "gcc" in tc.version and "\n" not in tc.version


def _native() -> bool:
    return any(a.native for a in arches.ARCHES.values())


def test_critical_path_and_wall_time_on_a_fleet(tmp_path: Path) -> None:
    m = matrix.load(write(tmp_path))
    p = make(m)
    build_s = {b.key: 600.0 for b in p.builds}  # 8 builds of 10 min
    test_s = {t.suite: (300.0 if t.runtime == "default" else 60.0) for t in p.tests}  # 12 rows
    assert plan_mod.critical_path(p, build_s, test_s) == 900.0  # one build plus the longest row
    assert plan_mod.wall_time(p, build_s, test_s, runners=20) == 900.0  # enough runners: the critical path
    one = plan_mod.wall_time(p, build_s, test_s, runners=1)
    assert one == sum(build_s.values()) + sum(test_s.values())  # one runner: everything in a row
    four = plan_mod.wall_time(p, build_s, test_s, runners=4)
    assert 900.0 < four < one and four >= one / 4
    with pytest.raises(ValueError):
        plan_mod.wall_time(p, build_s, test_s, runners=0)


SWEEP = """
[sweep]
configs = ["allnoconfig"]
randconfigs = 0
arches = ["x86_64", "arm64", "s390"]
compilers = ["gcc", "clang"]
clang_arches = ["arm64"]
"""


def test_the_fake_farms_matrix_with_a_sweep_plans_a_row_per_toolchain(fakefarm: FakeFarm) -> None:
    """`zpfarm plan` on the fake farm: a sweep row per toolchain of its [sweep], on the build runners."""
    before = json.loads(fakefarm.zpfarm("plan").stdout)
    assert before["sweep"] == {"include": []}  # no [sweep] in the matrix: CI sweeps nothing
    fakefarm.matrix.write_text(fakefarm.matrix.read_text() + SWEEP)
    planned = fakefarm.zpfarm("plan", "--runner", "arm64=self-hosted,arm64")
    assert planned.exit_code == 0, planned.output
    rows = json.loads(planned.stdout)
    assert rows["sweep"]["include"] == [
        {"toolchain": t, "arch": t.split("-")[0], "compiler": t.split("-")[1], "suites": [f"{t}/sweep"],
         "runs_on": ["ubuntu-latest"]}  # cross compilers: x86_64 runners, like the build rows
        for t in ("x86_64-gcc", "arm64-gcc", "arm64-clang", "s390-gcc")
    ]  # fmt: skip
    assert rows["build"] == before["build"] and rows["test"] == before["test"]  # beside them: no key changes
    assert json.loads(fakefarm.zpfarm("plan", "--stage", "sweep").stdout) == rows["sweep"]
    for argv in (["--no-sweep"], ["--cell", "base-*"]):  # asked not to; no series in the cells (nothing to sweep)
        planned = fakefarm.zpfarm("plan", *argv)
        assert planned.exit_code == 0 and json.loads(planned.stdout)["sweep"] == {"include": []}, planned.output


def test_a_sweep_row_per_toolchain_writes_a_suite_per_source(tmp_path: Path) -> None:
    two = BODY.replace('[source]\ntarball = "linux-source-6.12.tar.xz"\nbase = "v6.12.117"\n', "")
    two = '[sources."v6.12"]\nbase = "v6.12.117"\ntree = "."\nseries = "kernel-series"\n' + two
    two += '[sources."v7.3"]\nbase = "v7.3"\ntree = "."\nseries = "kernel-series"\n'
    m = matrix.load(write(tmp_path, two + '[sweep]\narches = ["riscv64"]\ncompilers = ["gcc"]\n'))
    (row,) = make(m, build_runner=Runner(("builders",), "x86_64")).sweeps
    assert row == SweepRow(
        "riscv64-gcc", "riscv64", "gcc", ("riscv64-gcc-v6.12/sweep", "riscv64-gcc-v7.3/sweep"), ("builders",)
    )
    assert make(m, sweep=False).sweeps == ()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("toolchain", "../x86_64-gcc"),  # it names files and jobs
        ("toolchain", "x86_64-clang"),  # not the row's arch and compiler
        ("arch", "mips"),
        ("compiler", "icc"),
        ("suites", ["x86_64-gcc/../../etc/sweep"]),
        ("suites", ["x86_64-gcc-../x/sweep"]),
        ("suites", ["arm64-gcc/sweep"]),  # another toolchain's suite
        ("suites", []),
        ("suites", "x86_64-gcc/sweep"),  # a string, not a list
        ("runs_on", "ubuntu-latest"),
        ("runs_on", ["ubuntu-latest\nrm -rf /"]),
        ("runs_on", []),
        ("timeout", 5),  # an unknown field
    ],
)
def test_a_hostile_sweep_row_is_not_a_plan(tmp_path: Path, field: str, value: object) -> None:
    row = {"toolchain": "x86_64-gcc", "arch": "x86_64", "compiler": "gcc", "suites": ["x86_64-gcc/sweep"]}
    row["runs_on"] = ["ubuntu-latest"]
    path = tmp_path / "plan.json"
    stages = {"build": {"include": []}, "test": {"include": []}}
    path.write_text(json.dumps({**stages, "sweep": {"include": [row]}}))
    assert plan_values.load(path).sweeps[0].toolchain == "x86_64-gcc"  # the row as the farm writes it
    path.write_text(json.dumps({**stages, "sweep": {"include": [{**row, field: value}]}}))
    with pytest.raises(UserError, match="not a zpfarm plan"):
        plan_values.load(path)


def test_a_plan_file_lists_a_sweep_toolchain_once_and_may_have_no_sweep(tmp_path: Path) -> None:
    row = {"toolchain": "x86_64-gcc", "arch": "x86_64", "compiler": "gcc", "suites": ["x86_64-gcc/sweep"]}
    row["runs_on"] = ["ubuntu-latest"]
    path = tmp_path / "plan.json"
    stages = {"build": {"include": []}, "test": {"include": []}}
    path.write_text(json.dumps({**stages, "sweep": {"include": [row, row]}}))
    with pytest.raises(UserError, match="listed twice"):
        plan_values.load(path)
    path.write_text(json.dumps(stages))  # a plan from before the sweep was a CI step
    assert plan_values.load(path).sweeps == ()
