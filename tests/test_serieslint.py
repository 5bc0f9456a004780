"""zpfarm series lint: the project's own series are ready to post; what is missing is named per case."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from farm import serieslint
from farm.host.cache import Cache, default_root
from farm.kernel import series
from farm.model.results import Status

ROOT = Path(__file__).resolve().parent.parent
SERIES = [ROOT / "kernel-series" / "v7.3", ROOT / "kernel-series" / "v6.12"]
BAD = """From: A Dev <a@example.org>
Subject: [PATCH] mm: add b

Signed-off-by: A Dev <a@example.org>
---
 mm/x.c | 1 +
 1 file changed, 1 insertion(+)

diff --git a/mm/x.c b/mm/x.c
--- a/mm/x.c
+++ b/mm/x.c
@@ -1,1 +1,2 @@
 int a;
+int b;\x20
"""


def _tree() -> Path:
    """A kernel tree with scripts/checkpatch.pl: one the farm imported on this machine."""
    found = [
        t for t in serieslint.default_trees(Cache(default_root()), None) if (t / "scripts/checkpatch.pl").is_file()
    ]
    if not found:
        pytest.skip("no kernel tree with scripts/checkpatch.pl here (zpfarm run imports one)")
    return found[0]


@pytest.mark.parametrize("directory", SERIES, ids=lambda p: p.name)
def test_the_project_series_carry_base_commit_and_change_id(directory: Path) -> None:
    suite = serieslint.lint(directory, [])
    by_name = {c.name: c for c in suite.cases}
    assert [by_name[n].status for n in ("cover-letter", "base-commit", "change-id")] == [Status.PASS] * 3
    checks = [c for c in suite.cases if c.name.startswith("checkpatch ")]
    assert len(checks) == len(series.load(directory).patches)
    assert {c.status for c in checks} == {Status.SKIP} and "--kernel-tree" in checks[0].message


def test_a_cover_letter_without_base_commit_and_change_id_fails_both(tmp_path: Path) -> None:
    shutil.copytree(SERIES[1], tmp_path / "s")
    cover = tmp_path / "s" / "0000-cover-letter.patch"
    cover.write_text("".join(line for line in cover.read_text().splitlines(True) if ": " not in line[:14]))
    failed = {c.name: c.message for c in serieslint.lint(tmp_path / "s", []).cases if c.status is Status.FAIL}
    assert sorted(failed) == ["base-commit", "change-id"] and "git format-patch --base" in failed["base-commit"]


def test_checkpatch_passes_a_patch_of_the_series_and_fails_trailing_whitespace(tmp_path: Path) -> None:
    tree = _tree()
    (tmp_path / "s").mkdir()
    shutil.copy(next(SERIES[1].glob("0002-*.patch")), tmp_path / "s")
    (tmp_path / "s" / "0003-bad.patch").write_text(BAD)
    (tmp_path / "s" / "series").write_text(f"{next(SERIES[1].glob('0002-*.patch')).name}\n0003-bad.patch\n")
    cases = {c.name: c for c in serieslint.lint(tmp_path / "s", [tmp_path / "no-tree", tree]).cases}
    good, bad = cases[f"checkpatch {next(SERIES[1].glob('0002-*.patch')).name}"], cases["checkpatch 0003-bad.patch"]
    assert good.status is Status.PASS
    assert bad.status is Status.FAIL and "trailing whitespace" in bad.message


def test_series_lint_writes_junit_and_exits_1_on_a_failed_check(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "0001-a.patch").write_text(BAD)
    (tmp_path / "s" / "series").write_text("0001-a.patch\n")
    junit = tmp_path / "lint.xml"
    argv = ["series", "lint", str(tmp_path / "s"), "--junit", str(junit), "--cache", str(tmp_path / "cache")]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 1, result.output
    assert 'name="cover-letter"' in junit.read_text() and "fail" in result.output


def test_series_import_of_an_unknown_source_is_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["series", "import", "nowhere:at-all", "-o", str(tmp_path / "x")])
    assert result.exit_code == 2, result.output


def test_checkpatch_is_looked_for_first_in_the_imported_tree_that_holds_the_base_commit(tmp_path: Path) -> None:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    commits = {}
    for name in ("linux-7.3.4", "linux-6.12.118"):
        repo = tmp_path / "cache" / "source" / name
        repo.mkdir(parents=True)
        (repo / "Makefile").write_text(f"# {name}\n")
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", name], ["rev-parse", "HEAD"]):
            done = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env)
        commits[name] = done.stdout.strip()
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "0000-cover-letter.patch").write_text(f"Subject: x\n\nbase-commit: {commits['linux-6.12.118']}\n")
    trees = serieslint.default_trees(Cache(tmp_path / "cache"), tmp_path / "mine", tmp_path / "s")
    assert [t.name for t in trees[:3]] == ["mine", "linux-6.12.118", "linux-7.3.4"]
