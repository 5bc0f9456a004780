"""A suite's name is made and read in one place, and base and series of one boot share a pair key."""

from __future__ import annotations

from pathlib import Path

import pytest

from farm.model import matrix
from farm.model.matrix import Kernel
from farm.model.suite_id import SuiteId

ROOT = Path(__file__).resolve().parent.parent


def test_every_suite_of_the_default_matrix_reads_back_as_it_was_made() -> None:
    m = matrix.load(ROOT / "matrix.toml")
    for cell in m.cells:
        for rt in cell.runtimes:
            made = SuiteId.of(cell, rt)
            assert SuiteId.parse(made.name) == made
            assert made.pair_key == made.name.removeprefix(f"{cell.kernel}-")


@pytest.mark.parametrize(
    ("name", "kernel", "cell", "runtime", "pair"),
    [
        ("series-x86_64-thp-on/default", Kernel.SERIES, "series-x86_64-thp-on", "default", "x86_64-thp-on/default"),
        (
            "base-arm64-thp-off-v6.12/shmem-always",
            Kernel.BASE,
            "base-arm64-thp-off-v6.12",
            "shmem-always",
            "arm64-thp-off-v6.12/shmem-always",
        ),
        ("zpfarm", None, "zpfarm", "", "zpfarm"),  # the setup error suite: no kernel, never paired
        ("baseline-x86_64/default", None, "baseline-x86_64", "default", "baseline-x86_64/default"),
    ],
)
def test_a_name_from_another_job_parses_into_its_parts(
    name: str, kernel: Kernel | None, cell: str, runtime: str, pair: str
) -> None:
    parsed = SuiteId.parse(name)
    assert (parsed.kernel, parsed.cell, parsed.runtime, parsed.pair_key, parsed.name) == (
        kernel,
        cell,
        runtime,
        pair,
        name,
    )
