"""zpfarm host-test on this machine's own kernel (root, no VM): the real runner, testcases and judge."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import FakeFarm

ROOT = Path(__file__).resolve().parent.parent
ZERO_C = """\
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	int *p = calloc(1, sizeof(*p));

	printf("KTAP version 1\\n1..1\\n%s 1 reads_zero\\n", p && *p == 0 ? "ok" : "not ok");
	return 0;
}
"""


def test_host_test_runs_the_testcases_on_this_kernel_and_judges_them(fakefarm: FakeFarm) -> None:
    """A Python testcase, and a C one built by the project's testcases/Makefile for this machine."""
    tests = fakefarm.root / "testcases"
    for name in ("Makefile", "zp_harness.h", "zp_mm.h"):
        shutil.copy2(ROOT / "testcases" / name, tests / name)
    (tests / "zero.c").write_text(ZERO_C)
    out, kernel = fakefarm.root / "out", "series"
    result = fakefarm.zpfarm("host-test", "--kernel", kernel, "--results", out)
    assert result.exit_code == 0, result.output
    table = " ".join(result.output.split())
    assert f"testcases on this host's kernel, judged as {kernel}" in table
    assert "holes.read_hole │ pass" in table and "holes.write_hole │ pass" in table
    assert "zero.reads_zero │ pass" in table
    assert (fakefarm.cache / "testcases" / "x86_64" / "zero").is_file()
    assert "ok 1 read_hole" in (out / "share" / "results.ktap").read_text()
    assert (out / "share" / "done").is_file()


def test_host_test_of_a_test_that_is_not_there_is_exit_2(fakefarm: FakeFarm) -> None:
    result = fakefarm.zpfarm("host-test", "--test", "memory", "--results", fakefarm.root / "out")
    assert result.exit_code == 2, result.output
    assert "memory" in result.output
