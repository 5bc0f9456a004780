"""Series loading, KCIDB hash, and git am onto a real (small) git repository."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from farm.kernel import series
from farm.model.errors import UserError


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "GIT_AUTHOR_DATE": "2020-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2020-01-01T00:00:00Z",
        "HOME": str(repo),
    }
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


@pytest.fixture
def repo_and_series(tmp_path: Path) -> tuple[Path, Path]:
    """A repo tagged v1 and a two-patch series made from it with format-patch."""
    repo = tmp_path / "linux"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "mm").mkdir()
    (repo / "mm" / "shmem.c").write_text("int a;\nint b;\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "tag", "v1")
    for n, line in ((1, "int c;\n"), (2, "int d;\n")):
        with (repo / "mm" / "shmem.c").open("a") as f:
            f.write(line)
        git(repo, "commit", "-qam", f"shmem: change {n}")
    out = tmp_path / "kernel-series"
    git(repo, "format-patch", "-q", "--cover-letter", "-o", str(out), "v1..main")
    names = sorted(p.name for p in out.glob("*.patch"))
    (out / "series").write_text("# the series\n" + "\n".join(names) + "\n")
    git(repo, "checkout", "-q", "--detach", "v1")
    return repo, out


def test_load_skips_cover_letter_and_hashes_like_kcidb(repo_and_series: tuple[Path, Path]) -> None:
    _, out = repo_and_series
    s = series.load(out)
    assert [p.name[:5] for p in s.patches] == ["0001-", "0002-"]
    inner = "".join(hashlib.sha256(p.read_bytes()).hexdigest() + "\n" for p in s.patches)
    assert s.hash == hashlib.sha256(inner.encode()).hexdigest()


def test_apply_makes_one_commit_per_patch_and_is_idempotent(repo_and_series: tuple[Path, Path]) -> None:
    repo, out = repo_and_series
    s = series.load(out)
    tip = series.apply(s, repo, "v1")
    assert git(repo, "log", "--format=%s", "v1..HEAD").split("\n")[:2] == ["shmem: change 2", "shmem: change 1"]
    assert (repo / "mm" / "shmem.c").read_text().endswith("int d;\n")
    before = (repo / "mm" / "shmem.c").stat().st_mtime_ns
    assert series.apply(s, repo, "v1") == tip
    assert (repo / "mm" / "shmem.c").stat().st_mtime_ns == before  # nothing rewritten: nothing rebuilt


def test_patch_that_does_not_apply_names_patch_and_file(repo_and_series: tuple[Path, Path]) -> None:
    repo, out = repo_and_series
    (repo / "mm" / "shmem.c").write_text("something else entirely\n")
    git(repo, "commit", "-qam", "diverge")
    git(repo, "tag", "v2")
    with pytest.raises(UserError, match=r"0001-shmem-change-1.patch does not apply to v2: .*mm/shmem.c"):
        series.apply(series.load(out), repo, "v2")
    assert not (repo / ".git" / "rebase-apply").exists()  # git am was aborted


def test_missing_series_file_and_missing_patch(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        series.load(tmp_path)
    (tmp_path / "series").write_text("0001-x.patch\n")
    with pytest.raises(UserError, match=r"series:1: no such patch 0001-x.patch"):
        series.load(tmp_path)


def test_a_series_file_that_is_not_utf8_is_one_line_of_bad_input(tmp_path: Path) -> None:
    (tmp_path / "series").write_bytes(b"0001-\xff.patch\n")
    with pytest.raises(UserError, match=r"series: not UTF-8 text \(byte 5\)"):
        series.load(tmp_path)


def _retrailed(src: Path, dst: Path, trailer: str) -> Path:
    """A copy of the series as its next version would mail it: a trailer more on every patch, a new cover."""
    dst.mkdir()
    for p in src.iterdir():
        text = p.read_text()
        if p.name.startswith("0000-"):
            text = text.replace("*** BLURB HERE ***", "v2: collected trailers")
        elif p.suffix == ".patch":
            text = text.replace("\n---\n", f"\n{trailer}\n---\n", 1)
        (dst / p.name).write_text(text)
    return dst


def test_a_version_that_changes_only_trailers_applies_as_the_commits_already_built(
    repo_and_series: tuple[Path, Path], tmp_path: Path
) -> None:
    repo, out = repo_and_series
    v1 = series.load(out)
    v2 = series.load(_retrailed(out, tmp_path / "v2", "Reviewed-by: R <r@example.org>"))
    assert v2.hash != v1.hash  # the bytes differ (KCIDB's patchset_hash follows the bytes)
    assert v2.identity == v1.identity  # what the patches change does not
    tip = series.apply(v1, repo, "v1")
    assert series.apply(v2, repo, "v1") == tip


def test_a_whitespace_change_in_a_patch_is_another_kernel(repo_and_series: tuple[Path, Path], tmp_path: Path) -> None:
    _, out = repo_and_series
    changed = _retrailed(out, tmp_path / "v2", "")
    patch = sorted(changed.glob("0001-*.patch"))[0]
    patch.write_text(patch.read_text().replace("+int c;", "+int  c;"))
    assert series.load(changed).identity != series.load(out).identity


def test_a_series_is_named_by_its_subject_tag_and_each_patch_has_its_git_patch_id() -> None:
    root = Path(__file__).resolve().parent.parent
    v3, v2 = series.load(root / "kernel-series" / "v7.3"), series.load(root / "tests" / "data" / "series-v2-v7.3")
    backport = series.load(root / "kernel-series" / "v6.12")
    assert (series.name(v3), series.name(v2), series.name(backport)) == ("v3", "v2", "v3 6.12 backport")
    ids = series.patch_ids(v3)
    assert len(ids) == len(v3.patches) and all(len(i) == 40 for i in ids)
    with v3.patches[0].open("rb") as patch:
        first = subprocess.run(["git", "patch-id", "--stable"], stdin=patch, capture_output=True)
    assert ids[0] == first.stdout.split()[0].decode()
    assert len(set(ids) & set(series.patch_ids(v2))) == 3  # patches v3 kept as v2 had them: the same id
