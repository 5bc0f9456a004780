"""compare --series: two versions of a series side by side, with git range-diff from a real (small) tree."""

from __future__ import annotations

import textwrap
from pathlib import Path

from kernels import git
from typer.testing import CliRunner

from cli import app
from farm import seriesdiff
from farm.host.cache import Cache
from farm.model import matrix


def _versions(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A tree tagged v1 and two versions of a two-patch series on it: v2 changes the second patch."""
    linux = tmp_path / "linux"
    linux.mkdir()
    git(linux, "init", "-q", "-b", "main")
    (linux / "shmem.c").write_text("int a;\n")
    git(linux, "add", "-A")
    git(linux, "commit", "-qm", "base")
    git(linux, "tag", "v1")
    body = "".join(f"int c{n};\n" for n in range(8))
    for version, second in (("v1", body), ("v2", body.replace("int c3;", "long c3;"))):
        git(linux, "checkout", "-q", "--detach", "v1")
        for subject, line in (("shmem: add b", "int b;\n"), ("shmem: add c", second)):
            with (linux / "shmem.c").open("a") as f:
                f.write(line)
            git(linux, "commit", "-qam", subject)
        git(linux, "format-patch", "-q", "-o", str(tmp_path / version), "v1..HEAD")
        names = sorted(p.name for p in (tmp_path / version).glob("*.patch"))
        (tmp_path / version / "series").write_text("\n".join(names) + "\n")
    git(linux, "checkout", "-q", "--detach", "v1")
    return linux, tmp_path / "v1", tmp_path / "v2"


def test_range_diff_of_two_versions_applied_on_the_tree(tmp_path: Path) -> None:
    linux, v1, v2 = _versions(tmp_path)
    (tmp_path / "on.config").write_text("CONFIG_X=y\n")
    (tmp_path / "testcases").mkdir()
    (tmp_path / "matrix.toml").write_text(
        textwrap.dedent("""
        series = "v1"
        [source]
        tree = "linux"
        base = "v1"
        [axes]
        kernel = ["series"]
        arch = ["x86_64"]
        kconfig = ["on"]
        [kconfig.on]
        fragments = ["on.config"]
        [runtime.default]
        """)
    )
    m = matrix.load(tmp_path / "matrix.toml")
    done = seriesdiff.compare_versions(v1, v2, [], m, Cache(tmp_path / "cache"))
    lines = done.text.splitlines()
    assert "  1 =   1  shmem: add b" in lines and "  2 !   2  shmem: add c" in lines
    ranged = lines[lines.index("git range-diff:") + 1 :]
    assert [line.split()[2] for line in ranged] == ["=", "!"]
    assert ranged[1].endswith("shmem: add c") and done.regressed == []
    assert git(linux, "status", "--short") == ""  # the user's checkout is never touched


def test_compare_series_names_the_changed_patch_of_a_two_version_thread(two_versions: tuple[Path, Path]) -> None:
    result = CliRunner().invoke(app, ["compare", "--series", *map(str, two_versions)])
    assert result.exit_code == 0, result.output
    changed = [line for line in result.output.splitlines() if line[3:6] == " ! "]
    assert changed == ["  9 !   9  shmem: map the shared zeropage on read faults of holes"]
    assert "same: 11, changed: 1, new: 0, dropped: 0" in result.output and "--kernel-tree" in result.output
