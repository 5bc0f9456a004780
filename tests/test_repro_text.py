"""The texts of a reproducer bundle: the one-cell matrix reads back as the cell, excerpts keep one test."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from farm import repro_text
from farm.model import matrix


def test_the_one_cell_matrix_reads_back_as_the_same_cell_and_runtime_whatever_its_strings(tmp_path: Path) -> None:
    (tmp_path / "src" / "kernel-series").mkdir(parents=True)
    (tmp_path / "src" / "testcases").mkdir()
    (tmp_path / "src" / "on.config").write_text("CONFIG_X=y\n")
    (tmp_path / "src" / "matrix.toml").write_text(
        textwrap.dedent("""
        [source]
        tarball = "/usr/local/src/linux-source-7.3.tar.xz"
        base = "v7.3.4"
        [guest]
        memory = "1G"
        cpus = 1
        [axes]
        kernel = ["series"]
        arch = ["x86_64"]
        kconfig = ["on"]
        [kconfig.on]
        fragments = ["on.config"]
        cmdline = ['quote="x" back\\slash', "ünïcode 😀"]
        [runtime."odd.name+1"]
        description = "tab\\there"
        sysfs = { "kernel/mm/transparent_hugepage/shmem_enabled" = "always", "a/b" = "#]" }
        cmdline = ["x=1"]
        tests = ["memory"]
        """)
    )
    m = matrix.load(tmp_path / "src" / "matrix.toml")
    (cell,) = m.cells
    (tmp_path / "bundle" / "configs").mkdir(parents=True)
    (tmp_path / "bundle" / "configs" / "01-on.config").write_text("CONFIG_X=y\n")
    (tmp_path / "bundle" / "series").mkdir()
    (tmp_path / "bundle" / "testcases").mkdir()
    layout = repro_text.Layout("series", "testcases", ("configs/01-on.config",))
    text = repro_text.matrix_toml(cell, cell.runtimes[0], m.guest, layout, "matrix.toml")
    (tmp_path / "bundle" / "matrix.toml").write_text(text)
    again = matrix.load(tmp_path / "bundle" / "matrix.toml")
    (copy,) = again.cells
    assert (copy.name, copy.runtimes, copy.kconfig.cmdline) == (cell.name, cell.runtimes, cell.kconfig.cmdline)
    assert again.guest == m.guest and again.sources[0].tarball == m.sources[0].tarball
    assert str(tmp_path) not in text


KTAP = """\
KTAP version 1
1..2
    # Subtest: memory
    1..1
    ok 1 read_hole
ok 1 memory
    # Subtest: zeropage
    1..2
    ok 1 a
    not ok 2 b
not ok 2 zeropage
"""


def test_the_ktap_excerpt_is_the_one_programs_block() -> None:
    assert repro_text.ktap_excerpt(KTAP, "zeropage") == (
        "KTAP version 1\n    # Subtest: zeropage\n    1..2\n    ok 1 a\n    not ok 2 b\nnot ok 2 zeropage\n"
    )
    assert repro_text.ktap_excerpt(KTAP, None) == KTAP
    assert repro_text.ktap_excerpt(KTAP, "pins") == ""


def test_the_console_excerpt_is_the_banner_and_the_test_between_its_markers() -> None:
    console = "Linux version 7.3.4\nboot noise\nzpfarm: begin memory\nm\nzpfarm: end memory\n"
    console += "[  1.0] zpfarm: begin zeropage\nBUG: bad page map\n[  2.0] zpfarm: end zeropage\n"
    kept = repro_text.console_excerpt(console, "zeropage")
    assert kept.splitlines()[0] == "Linux version 7.3.4" and "BUG: bad page map" in kept
    assert "boot noise" not in kept and "\nm\n" not in kept


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("/work/run/results/x/console.log", "<results>/x/console.log"),
        ("virtme_chdir=work/run rootfstype=9p", "virtme_chdir=<cwd> rootfstype=9p"),
        ("see work/run/results/y", "see <results>/y"),
    ],
)
def test_scrub_replaces_this_machines_directories_with_or_without_their_first_slash(text: str, scrubbed: str) -> None:
    assert repro_text.scrub(text, {"/work/run/results": "<results>", "/": "<root>"}) == scrubbed


def test_sums_are_what_sha256sum_reads_and_refuse_names_outside_the_bundle() -> None:
    assert repro_text.sums({"b": "2" * 64, "a/c": "1" * 64}) == f"{'1' * 64}  a/c\n{'2' * 64}  b\n"
    for bad in ("../x", "/etc/passwd", "a\nb"):
        with pytest.raises(ValueError, match="not a name inside the bundle"):
            repro_text.sums({bad: "0" * 64})


def test_a_cell_of_a_users_tree_names_the_tree_beside_the_bundle_not_where_it_was(tmp_path: Path) -> None:
    (tmp_path / "linux" / ".git").mkdir(parents=True)
    (tmp_path / "testcases").mkdir()
    (tmp_path / "on.config").write_text("CONFIG_X=y\n")
    (tmp_path / "matrix.toml").write_text(
        f'[source]\ntree = "{tmp_path / "linux"}"\nbase = "v6.12"\n[axes]\nkernel = ["base"]\narch = ["x86_64"]\n'
        'kconfig = ["on"]\n[kconfig.on]\nfragments = ["on.config"]\n'
    )
    m = matrix.load(tmp_path / "matrix.toml")
    (cell,) = m.cells
    layout = repro_text.Layout(None, "testcases", ("configs/01-on.config",))
    text = repro_text.matrix_toml(cell, cell.runtimes[0], m.guest, layout, "matrix.toml")
    assert 'tree = "linux"' in text and 'base = "v6.12"' in text and str(tmp_path) not in text
