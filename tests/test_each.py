"""build-each's verdicts on captured kernel build logs."""

from __future__ import annotations

from pathlib import Path

from farm import build_each
from farm.kernel import build
from farm.model.results import Status

# What make prints for a warning in an incremental O= build (gcc 12, 6.12 tree).
WARNING_LOG = """\
  CALL    ../../worktrees/linux-6.12.117/series/scripts/checksyscalls.sh
  CC      mm/shmem.o
../../worktrees/linux-6.12.117/series/mm/shmem.c: In function 'shmem_fault':
../../worktrees/linux-6.12.117/series/mm/shmem.c:2530:13: warning: unused variable 'zero' [-Wunused-variable]
 2530 |         int zero;
      |             ^~~~
  AR      mm/built-in.a
  LD      vmlinux.o
"""
CLEAN_LOG = "  CC      mm/shmem.o\n  AR      mm/built-in.a\n  LD      vmlinux.o\n"


def _built(tmp_path: Path, text: str, ok: bool = True) -> build.Built:
    log = tmp_path / "step.log"
    log.write_text(text)
    return build.Built(ok, None, "", 0, 42.0, log, "built" if ok else "build failed: mm/shmem.c:1: error: oops")


def test_a_patch_that_warns_fails_naming_the_warning(tmp_path: Path) -> None:
    case = build_each.verdict("0005 shmem: map the zeropage", _built(tmp_path, WARNING_LOG), is_patch=True)
    assert case.status is Status.FAIL
    assert "1 new compiler warning" in case.message and "unused variable 'zero'" in case.message


def test_the_base_may_warn_and_still_pass(tmp_path: Path) -> None:
    case = build_each.verdict("base v6.12.117", _built(tmp_path, WARNING_LOG), is_patch=False)
    assert case.status is Status.PASS and "1 warning(s) in the base" in case.message


def test_a_clean_patch_passes_and_a_broken_one_fails(tmp_path: Path) -> None:
    assert build_each.verdict("0001", _built(tmp_path, CLEAN_LOG), is_patch=True).status is Status.PASS
    broken = build_each.verdict("0002", _built(tmp_path, CLEAN_LOG + "make: *** Error 2\n", ok=False), is_patch=True)
    assert broken.status is Status.BUILD and "error: oops" in broken.message
