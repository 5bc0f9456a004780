"""zpfarm doctor names every kernel source the matrix needs, and what installs a missing one."""

from __future__ import annotations

from pathlib import Path

from conftest import FakeFarm
from kernels import FAKEVNG, kernel_tarball

from farm.doctor import checks
from farm.host.cache import Cache
from farm.model import arches
from farm.model.matrix import Source


def test_each_source_of_the_matrix_is_checked_and_shown_as_resolved(tmp_path: Path) -> None:
    present = kernel_tarball(tmp_path / "linux-source-6.12.tar.xz", "6.12.118")
    sources = [
        Source("v6.12", tarball=present, name="v6.12"),
        Source("v7.3", tarball=tmp_path / "linux-source-7.3.tar.xz", name="v7.3"),
        Source("v6.12.117", tarball=present, name="pinned"),
    ]
    found = {c.name: c for c in checks(Cache(tmp_path / "cache"), sources)}
    resolved = found["kernel source v6.12"]
    assert resolved.ok and resolved.detail.startswith(f"v6.12 -> v6.12.118 from {present} (sha256 ")
    missing = found["kernel source v7.3"]
    assert not missing.ok and "not found" in missing.detail and missing.fix == "./install.sh"
    assert missing.needed_by == "v7.3 cells"
    moved = found["kernel source pinned"]
    assert not moved.ok and "holds Linux 6.12.118, but the matrix pins v6.12.117" in moved.detail


def test_a_build_only_arch_needs_its_cross_compiler_and_no_qemu(tmp_path: Path) -> None:
    for_s390 = [c for c in checks(Cache(tmp_path / "cache"), []) if c.needed_by == "s390 cells (build only)"]
    assert [(c.name, c.fix) for c in for_s390] == [("s390x-linux-gnu-gcc", "apt-get install gcc-s390x-linux-gnu")]


def test_install_sh_installs_what_each_arch_needs() -> None:
    script = (Path(__file__).resolve().parent.parent / "install.sh").read_text()
    packages = set(script.split("PACKAGES=(", 1)[1].split("\n)", 1)[0].split())
    for arch in arches.ARCHES.values():
        wanted = arch.packages if not arch.native else arch.qemu.packages if arch.qemu else ()
        assert set(wanted) <= packages, arch.name


def test_doctor_through_the_cli_shows_the_resolved_base_and_the_chosen_vng(fakefarm: FakeFarm) -> None:
    result = fakefarm.zpfarm("doctor")
    assert result.exit_code in (0, 3), result.output  # 3: this host misses a tool (named in the table)
    table = " ".join(result.output.split())
    assert "v6.12 -> v6.12.117 from" in table and fakefarm.tarball.name in table  # a long tmp path may wrap
    assert str(FAKEVNG) in table
