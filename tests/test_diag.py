"""Compiler diagnostics in make output: parsed, made relative to the tree, new ones told from old."""

from __future__ import annotations

from pathlib import Path

from farm.kernel import diag

TREE = Path("/cache/worktrees/linux/base")
BUILD = Path("/cache/sweep/x86_64-gcc/allnoconfig")
# What gcc prints in an O= build: paths relative to O=, or absolute (the real 7.3 tree's case).
BASE = """\
  CC      mm/shmem.o
../../../worktrees/linux/base/mm/shmem.c:2530:13: warning: unused variable 'zero' [-Wunused-variable]
"""
PATCHED = """\
  CC      mm/shmem.o
/cache/worktrees/linux/base/mm/shmem.c:2541:13: warning: unused variable 'zero' [-Wunused-variable]
/cache/worktrees/linux/base/mm/shmem.c:2542:9: warning: unused variable 'one' [-Wunused-variable]
/cache/worktrees/linux/base/mm/memory.c:6771:13: error: implicit declaration of function 'is_ksm_zero_pte'
make[4]: *** [/cache/worktrees/linux/base/scripts/Makefile.build:295: mm/memory.o] Error 1
make[3]: *** No rule to make target 'mm/ksm.o'.  Stop.
"""


def test_paths_become_relative_to_the_tree_either_way() -> None:
    (old,) = diag.parse(BASE, BUILD, TREE)
    new = diag.parse(PATCHED, BUILD, TREE)
    assert old.file == "mm/shmem.c" and old.line == 2530 and old.kind == "warning"
    assert [d.file for d in new] == ["mm/shmem.c", "mm/shmem.c", "mm/memory.c"]


def test_a_warning_on_a_moved_line_is_not_new() -> None:
    added = diag.added(diag.parse(PATCHED, BUILD, TREE), diag.parse(BASE, BUILD, TREE))
    assert [(d.kind, d.text.split("'")[1]) for d in added] == [("warning", "one"), ("error", "is_ksm_zero_pte")]


def test_twice_the_same_warning_is_one_new() -> None:
    twice = diag.parse(BASE + BASE, BUILD, TREE)
    assert len(diag.added(twice, diag.parse(BASE, BUILD, TREE))) == 1


def test_failed_and_absent_objects() -> None:
    assert diag.failed_objects(PATCHED) == ["mm/memory.o"]
    assert diag.absent_objects(PATCHED) == ["mm/ksm.o"]
