"""Which guest programs a --test selection runs."""

from __future__ import annotations

from farm.guest import selftests
from farm.guest.selection import Selection


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
