"""matrix.toml parsing: the default matrix, and one clear error per kind of mistake."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from farm import resolve
from farm.model import matrix
from farm.model.arches import Accel
from farm.model.errors import UserError
from farm.vm import boot

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "kernel-series").mkdir(exist_ok=True)
    (tmp_path / "testcases").mkdir(exist_ok=True)
    (tmp_path / "on.config").write_text("CONFIG_TRANSPARENT_HUGEPAGE=y\n")
    path = tmp_path / "matrix.toml"
    path.write_text(body)
    return path


GOOD = """
[axes]
kernel = ["base", "series"]
arch = ["x86_64"]
kconfig = ["on"]
[kconfig.on]
fragments = ["on.config"]
[runtime.default]
[runtime.always]
kconfigs = ["on"]
sysfs = { "kernel/mm/transparent_hugepage/shmem_enabled" = "always" }
"""


def test_default_matrix_has_the_mission_axes() -> None:
    m = matrix.load(ROOT / "matrix.toml")
    names = {c.name for c in m.cells}
    for kernel in ("base", "series"):
        for arch in ("x86_64", "arm64"):
            for kc in ("thp-on", "thp-off"):
                assert f"{kernel}-{arch}-{kc}" in names
    on = next(c for c in m.cells if c.name == "base-x86_64-thp-on")
    off = next(c for c in m.cells if c.name == "base-x86_64-thp-off")
    assert "shmem-always" in [r.name for r in on.runtimes]
    assert [r.name for r in off.runtimes] == ["default"]
    # What would be posted: the series upstream, on whichever 7.3.y Debian's tarball holds.
    assert m.source.tarball == Path("/usr/local/src/linux-source-7.3.tar.xz")
    assert m.source.base == "v7.3" and m.source.series.name == "v7.3"
    backport = matrix.load(ROOT / "matrix-v6.12.toml")
    assert {c.name for c in backport.cells} == names
    assert (backport.source.base, backport.source.series.name) == ("v6.12", "v6.12")


def test_cells_runtimes_and_select(tmp_path: Path) -> None:
    m = matrix.load(write(tmp_path, GOOD))
    assert [c.name for c in m.cells] == ["base-x86_64-on", "series-x86_64-on"]
    always = m.cells[0].runtimes[1]
    assert always.sysfs == (("kernel/mm/transparent_hugepage/shmem_enabled", "always"),)
    picked = m.select(["series-*/always"])
    assert [(c.name, [r.name for r in c.runtimes]) for c in picked] == [("series-x86_64-on", ["always"])]
    assert [c.name for c in m.select(["base-*"])] == ["base-x86_64-on"]


def test_a_kconfig_variant_boots_with_its_kernel_parameters_before_the_runtimes(tmp_path: Path) -> None:
    body = GOOD.replace('fragments = ["on.config"]', 'fragments = ["on.config"]\ncmdline = ["hung_task_panic=1"]')
    m = matrix.load(write(tmp_path, body.replace("[runtime.always]", '[runtime.always]\ncmdline = ["quiet"]')))
    cell = m.cells[0]
    assert cell.kconfig.cmdline == ("hung_task_panic=1",)
    always = cell.runtimes[1]
    request = boot.Boot(
        tmp_path / "bzImage",
        "x86_64",
        tmp_path / "runner",
        Accel.TCG,
        m.guest,
        always,
        kconfig_cmdline=cell.kconfig.cmdline,
    )
    argv = boot.vng_argv(request, tmp_path / "share")
    appended = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--append"]
    assert appended == ["hung_task_panic=1", "quiet"]


def test_icount_boots_without_kvm_and_counts_instructions(tmp_path: Path) -> None:
    m = matrix.load(write(tmp_path, GOOD))
    cell = m.cells[0]
    request = boot.Boot(tmp_path / "bzImage", "x86_64", tmp_path / "runner", Accel.ICOUNT, m.guest, cell.runtimes[0])
    argv = boot.vng_argv(request, tmp_path / "share")
    assert "--disable-kvm" in argv
    assert argv[argv.index("--qemu-opts") + 1] == "-icount shift=0,sleep=off"
    kvm = boot.vng_argv(dataclasses.replace(request, accel=Accel.KVM), tmp_path / "share")
    assert "--disable-kvm" not in kvm and "--qemu-opts" not in kvm


def test_the_debug_variants_panic_on_hangs_on_both_bases() -> None:
    """BOOTPARAM_*_PANIC are bool on 6.12 and counts on 7.x: the boot parameters ask on both."""
    for name in ("matrix.toml", "matrix-two-bases.toml"):
        debug = {c.kconfig for c in matrix.load(ROOT / name).cells if c.kconfig.name == "debug"}
        assert [k.cmdline for k in debug] == [("softlockup_panic=1", "hung_task_panic=1")]
    assert "BOOTPARAM" not in "".join(
        line for line in (ROOT / "farm/configs/debug.config").read_text().splitlines() if not line.startswith("#")
    )


def test_include_and_exclude(tmp_path: Path) -> None:
    body = GOOD + '[[exclude]]\nkernel = "base"\n[[include]]\nkernel = "base"\narch = "arm64"\nkconfig = "on"\n'
    m = matrix.load(write(tmp_path, body))
    assert [c.name for c in m.cells] == ["series-x86_64-on", "base-arm64-on"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("[axes]", "[axes]\nkernels = []"), "unknown key 'kernels'"),
        (('arch = ["x86_64"]', 'arch = ["sparc"]'), "arch: unknown value 'sparc'"),
        (('fragments = ["on.config"]', 'fragments = ["nope.config"]'), "no such file"),
        (('kconfigs = ["on"]', 'kconfigs = ["off"]'), "unknown kconfig variant 'off'"),
        (("[runtime.default]", "[runtime.default]\ncpus = 3"), "[runtime] [default]: unknown key 'cpus'"),
        (("[axes]", '[[include]]\nkernel = "base"\narch = "x86_64"\nkconfig = "on"\n[axes]'), "duplicate cell"),
        (("[axes]", "[guest]\ncpus = 'two'\n[axes]"), "'cpus' must be a int"),
        (("kernel = [", "kernel = "), "not valid TOML"),
        (("[axes]", "exclude = [1]\n[axes]"), "[[exclude]] #1: must be a table, not 1"),
        (("[axes]", '[guest]\nmemory = "lots"\n[axes]'), "'memory' must be a size like"),
        (("[axes]", "[guest]\ncpus = 0\n[axes]"), "'cpus' must be a number above 0, not 0"),
        (("[axes]", "[guest]\ncpus = -3\n[axes]"), "'cpus' must be a number above 0, not -3"),
        (("[axes]", "[guest]\ntest_timeout = 0\n[axes]"), "'test_timeout' must be a number above 0"),
        (("[axes]", "[guest]\nboot_timeout = -1.5\n[axes]"), "'boot_timeout' must be a number above 0"),
        (("[axes]", "[guest]\nboot_timeout = inf\n[axes]"), "'boot_timeout' must be a number above 0, not inf"),
        (("[axes]", "[guest]\ntest_timeout = nan\n[axes]"), "'test_timeout' must be a number above 0, not nan"),
        (('fragments = ["on.config"]', "fragments = []"), "list at least one config fragment"),
        (('arch = ["x86_64"]', "arch = []"), "arch: list at least one value"),
        (("[runtime.always]", '[runtime."../up"]'), "runtime '../up': use up to 64 letters"),
        (("[runtime.always]", '[runtime."always\\n"]'), "runtime 'always\\n': use up to 64 letters"),
        (("[runtime.always]", f"[runtime.{'a' * 65}]"), f"runtime '{'a' * 65}': use up to 64 letters"),
        (("[axes]", '[guest]\nmemory = "2G\\n"\n[axes]'), "'memory' must be a size like"),
        (("shmem_enabled", "../../../tmp/x"), "must be a path under /sys without '..'"),
        (("[axes]", 'series = "no-such-series"\n[axes]'), "series: no such directory"),
        (('"kernel/mm/', '"/etc/'), "must be a path under /sys without '..'"),
    ],
)
def test_bad_matrix_names_the_key(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    with pytest.raises(UserError, match=None) as e:
        matrix.load(write(tmp_path, GOOD.replace(*change, 1)))
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_select_unknown_glob_lists_cells(tmp_path: Path) -> None:
    m = matrix.load(write(tmp_path, GOOD))
    with pytest.raises(UserError, match=r"matches no cell.*base-x86_64-on"):
        m.select(["nope-*"])


def test_kernel_tree_overrides_the_source(tmp_path: Path) -> None:
    m = matrix.load(ROOT / "matrix.toml")
    (tmp_path / ".git").mkdir()
    mine = resolve.with_tree(m, tmp_path, "v6.12")
    assert mine.source.tree == tmp_path and mine.source.base == "v6.12" and mine.source.tarball is None
    assert resolve.with_tree(m, None, None) is m
    with pytest.raises(UserError, match="needs --base"):
        resolve.with_tree(m, tmp_path, None)


@pytest.mark.parametrize("content", [b"\xff\xfe[axes]\n", None])
def test_a_matrix_that_is_not_utf8_or_is_a_directory_is_one_line(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "matrix.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(UserError, match=r"not UTF-8|cannot read the matrix file"):
        matrix.load(path)


TWO_BASES = """
[sources."v7.3"]
tarball = "linux-source-7.3.tar.xz"
base = "v7.3.4"
series = "series-7.3"
[sources."v6.12"]
base = "v6.12.117"
series = "series-6.12"
[axes]
kernel = ["base", "series"]
arch = ["x86_64"]
kconfig = ["on"]
[kconfig.on]
fragments = ["on.config"]
[[include]]
source = "v6.12"
kernel = "series"
arch = "arm64"
kconfig = "on"
"""


def test_a_matrix_with_two_bases_names_each_cell_after_its_source(tmp_path: Path) -> None:
    for d in ("series-7.3", "series-6.12"):
        (tmp_path / d).mkdir()
    m = matrix.load(write(tmp_path, TWO_BASES))
    assert [c.name for c in m.cells] == [
        "base-x86_64-on-v7.3",
        "series-x86_64-on-v7.3",
        "base-x86_64-on-v6.12",
        "series-x86_64-on-v6.12",
        "series-arm64-on-v6.12",
    ]
    by_name = {c.name: c for c in m.cells}
    assert by_name["series-x86_64-on-v7.3"].source.series == tmp_path / "series-7.3"
    assert by_name["base-x86_64-on-v6.12"].source.tarball == matrix.DEFAULT_TARBALL
    assert [c.name for c in m.select(["*-v7.3"])] == ["base-x86_64-on-v7.3", "series-x86_64-on-v7.3"]
    only = matrix.load(
        write(tmp_path, TWO_BASES.replace('kernel = ["base", "series"]', 'source = ["v6.12"]\nkernel = ["base"]'))
    )
    assert [c.name for c in only.cells] == ["base-x86_64-on-v6.12", "series-arm64-on-v6.12"]
    with pytest.raises(UserError, match="has several sources"):
        m.source  # noqa: B018  # bisect and --kernel-tree need one


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('[sources."v6.12"]', '[source]\n[sources."v6.12"]'), "not both"),
        (('series = "series-7.3"', 'series = "nope"'), "series: no such directory"),
        (('base = "v7.3.4"\n', ""), "missing key 'base'"),
        (('source = "v6.12"', 'source = "v9"'), "source: unknown value 'v9'"),
    ],
)
def test_bad_sources_name_the_key(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    for d in ("series-7.3", "series-6.12"):
        (tmp_path / d).mkdir()
    with pytest.raises(UserError) as e:
        matrix.load(write(tmp_path, TWO_BASES.replace(*change, 1)))
    assert message in str(e.value)


def test_the_two_bases_matrix_pairs_each_base_with_its_own_series() -> None:
    m = matrix.load(ROOT / "matrix-two-bases.toml")
    bases = {c.source.name: (c.source.base, c.source.series.name) for c in m.cells}
    assert bases == {"v7.3": ("v7.3", "v7.3"), "v6.12": ("v6.12", "v6.12")}
    names = {c.name for c in m.cells}
    assert {"series-x86_64-thp-on-v7.3", "base-x86_64-thp-on-v6.12", "series-x86_64-debug-v7.3"} <= names
    assert len(m.cells) == 2 * len(matrix.load(ROOT / "matrix.toml").cells)


S390 = '[[include]]\nkernel = "series"\narch = "s390x"\nkconfig = "on"\n'


def test_a_build_only_arch_has_cells_without_boots(tmp_path: Path) -> None:
    m = matrix.load(write(tmp_path, GOOD + S390))
    s390 = m.cells[-1]
    assert (s390.name, s390.arch.build_only, s390.runtimes) == ("series-s390-on", True, ())
    assert all(c.runtimes for c in m.cells[:-1])  # the other cells keep their boots
    assert m.select(["*-s390-*"]) == (s390,)  # picked by its name
    assert s390 not in m.select(["*/always"])
    with pytest.raises(UserError, match=r"^cell series-s390-on is build-only \(the farm cannot boot s390\)"):
        matrix.check_bootable(m.cells)
    with pytest.raises(UserError, match="build-only"):
        m.select_one("series-s390-*")
    matrix.check_bootable(m.select(["*-x86_64-*"]))


def test_the_s390_matrix_builds_the_series_on_both_bases_and_boots_nothing() -> None:
    m = matrix.load(ROOT / "matrix-s390.toml")
    assert {c.source.name: c.source.series.name for c in m.cells} == {"v7.3": "v7.3", "v6.12": "v6.12"}
    assert all(c.kernel is matrix.Kernel.SERIES and c.arch.build_only and not c.runtimes for c in m.cells)
    assert all(c.arch.base_config.is_file() for c in m.cells)


def test_coverage_is_a_kconfig_variant_flag(tmp_path: Path) -> None:
    flagged = GOOD.replace('fragments = ["on.config"]', 'fragments = ["on.config"]\ncoverage = true')
    assert all(c.kconfig.coverage for c in matrix.load(write(tmp_path, flagged)).cells)
    assert not any(c.kconfig.coverage for c in matrix.load(write(tmp_path, GOOD)).cells)
    with pytest.raises(UserError, match="'coverage' must be a bool"):
        matrix.load(write(tmp_path, flagged.replace("coverage = true", "coverage = 1")))


def test_the_coverage_matrix_has_a_series_gcov_cell_per_base() -> None:
    m = matrix.load(ROOT / "matrix-coverage.toml")
    assert sorted(c.name for c in m.cells) == ["series-x86_64-gcov-v6.12", "series-x86_64-gcov-v7.3"]
    assert all(c.kconfig.coverage for c in m.cells)
