"""Which guest programs a --test selection runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from farm import pipeline
from farm.guest import selftest_runs, selftests
from farm.guest.selection import Selection, select
from farm.host.cache import Cache
from farm.kernel.series import added_files, load
from farm.model import matrix
from farm.model.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


def test_one_selftest_brings_the_selftests_setup_step_with_it() -> None:
    # khugepaged's swap cases fail without the zram swap the setup step turns on
    assert Selection(("selftests-mm-khugepaged",)).wants(selftests.SETUP_NAME)
    assert Selection(("selftests",)).wants(selftests.SETUP_NAME)
    assert Selection().wants(selftests.SETUP_NAME)


def test_a_testcases_only_selection_runs_no_selftest_setup() -> None:
    only_memory = Selection(("memory",))
    assert not only_memory.wants(selftests.SETUP_NAME)
    assert only_memory.wants("memory") and not only_memory.wants("selftests-mm-khugepaged")


def test_a_selftest_name_selects_its_groups_and_nothing_else() -> None:
    uffd = Selection(("selftests-mm-uffd-unit-tests",))
    assert uffd.wants("selftests-mm-uffd-unit-tests-zeropage")
    assert not uffd.wants("selftests-mm-khugepaged") and not uffd.wants("memory")


def test_the_series_own_selftest_is_known_from_its_patch_and_a_look_alike_is_not() -> None:
    """Any selftests-mm-*zeropage* name used to pass unchecked: a typo booted and ran only the setup."""
    series = load(ROOT / "kernel-series" / "v7.3")
    new = selftest_runs.new_runs(added_files(series))
    assert new == ["selftests-mm-shmem_zeropage"]
    assert select(ROOT / "testcases", ["selftests-mm-shmem_zeropage"], new_selftests=new).names
    for typo in ("selftests-mm-shmem_zeropag", "selftests-mm-xzeropagex"):
        with pytest.raises(UserError, match=f"'{typo}': selects no test program"):
            select(ROOT / "testcases", [typo], new_selftests=new)


def test_only_selftests_with_no_selftests_is_bad_input(tmp_path: Path) -> None:
    m = matrix.load(ROOT / "matrix.toml")
    cells = m.select(["series-x86_64-thp-on/default"])
    args = (m, cells, Cache(tmp_path / "cache"), tmp_path / "out", tmp_path / "junit.xml")
    with pytest.raises(UserError, match="with --no-selftests: nothing would run"):
        pipeline.options(*args, tests=["selftests-mm-cow"], selftests=False)
    assert pipeline.options(*args, tests=["selftests-mm-shmem_zeropage"]).selection.names
