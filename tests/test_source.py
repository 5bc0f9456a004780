"""Bases that move: a stable line takes the point release its tarball holds, a pin is checked."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from kernels import kernel_tarball

from farm.host import provenance
from farm.host.cache import Cache
from farm.kernel import git, source
from farm.model import matrix
from farm.model.errors import InfraError, UserError
from farm.model.matrix import Source


def test_a_stable_line_resolves_to_the_tarballs_point_release(tmp_path: Path) -> None:
    tarball = kernel_tarball(tmp_path / "linux-source-7.3.tar.xz", "7.3.4")
    resolved = source.resolve(Source("v7.3", tarball=tarball), Cache(tmp_path / "cache"))
    assert (resolved.base, resolved.line) == ("v7.3.4", "v7.3")
    assert len(resolved.tarball_sha256) == 64 and resolved.tarball == tarball


def test_the_tarballs_version_is_remembered_by_its_sha256(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    tarball = kernel_tarball(tmp_path / "linux-source-7.3.tar.xz", "7.3.4")
    first = source.read_tarball(tarball, cache)
    memo = tmp_path / "cache" / "source" / ".tarballs" / f"{first.sha256}.version"
    assert memo.read_text() == "7.3.4\n"
    memo.write_text("7.3.99\n")  # read back, not the archive again
    assert source.read_tarball(tarball, cache).version == "7.3.99"


def test_an_unchanged_tarball_is_hashed_once_and_a_rewritten_one_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = Cache(tmp_path / "cache")
    tarball = kernel_tarball(tmp_path / "linux-source-6.12.tar.xz", "6.12.117")
    first = source.read_tarball(tarball, cache)
    with monkeypatch.context() as hashing:
        hashing.setattr(provenance, "sha256", lambda path: pytest.fail(f"{path} hashed again"))
        assert source.read_tarball(tarball, cache) == first
    # Debian's next point release in its place, with the old mtime put back: its ctime still moved.
    stat = tarball.stat()
    kernel_tarball(tarball, "6.12.118")
    os.utime(tarball, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = source.read_tarball(tarball, cache)
    assert second.version == "6.12.118" and second.sha256 != first.sha256


def test_the_next_point_release_is_imported_beside_the_last_and_nothing_else_changes(tmp_path: Path) -> None:
    """Debian moves its package from N to N+1: the next run imports N+1, no error."""
    cache = Cache(tmp_path / "cache")
    tarball = tmp_path / "linux-source-6.12.tar.xz"
    m = matrix.Source("v6.12", tarball=tarball)
    seen = []
    for version in ("6.12.117", "6.12.118"):
        kernel_tarball(tarball, version)
        resolved = source.resolve(m, cache)
        repo = source.ensure_repo(resolved, cache)
        commit = source.base_commit(repo, resolved)
        seen.append((resolved.base, repo.name, commit))
        record = json.loads((repo / ".git" / "zpfarm-import.json").read_text())
        assert record == {"version": version, "tarball": str(tarball), "sha256": resolved.tarball_sha256}
        assert git.out(repo, ["config", "gc.auto"]).strip() == "0"  # no background repack of the whole tree
    assert [(b, r) for b, r, _ in seen] == [("v6.12.117", "linux-6.12.117"), ("v6.12.118", "linux-6.12.118")]
    assert seen[0][2] != seen[1][2]
    assert git.resolve(cache.source("linux-6.12.117"), "v6.12.117") == seen[0][2]  # N is still there


def test_a_pin_the_cache_already_holds_needs_no_tarball_of_that_release(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    tarball = kernel_tarball(tmp_path / "linux-source-6.12.tar.xz", "6.12.117")
    pinned = source.resolve(Source("v6.12.117", tarball=tarball), cache)
    source.ensure_repo(pinned, cache)
    kernel_tarball(tarball, "6.12.118")  # the archive moved on
    again = source.resolve(Source("v6.12.117", tarball=tarball), cache)
    assert again.base == "v6.12.117" and again.tarball_sha256 == pinned.tarball_sha256


def test_a_pin_the_tarball_does_not_hold_names_both_releases_and_the_fixes(tmp_path: Path) -> None:
    tarball = kernel_tarball(tmp_path / "linux-source-6.12.tar.xz", "6.12.118")
    with pytest.raises(UserError) as e:
        source.resolve(Source("v6.12.117", tarball=tarball), Cache(tmp_path / "cache"))
    message = str(e.value)
    assert "holds Linux 6.12.118, but the matrix pins v6.12.117" in message
    assert "apt-get install linux-source-6.12=6.12.117-" in message and 'base = "v6.12"' in message


def test_a_tarball_of_another_line_is_refused(tmp_path: Path) -> None:
    tarball = kernel_tarball(tmp_path / "linux-source-7.3.tar.xz", "7.4.1")
    with pytest.raises(UserError, match=r"holds Linux 7\.4\.1, not the v7\.3 line"):
        source.resolve(Source("v7.3", tarball=tarball), Cache(tmp_path / "cache"))


@pytest.mark.parametrize(
    ("content", "error"),
    [(b"not a tarball", UserError), (None, InfraError)],
    ids=["garbage", "missing"],
)
def test_a_bad_or_missing_tarball_is_one_clear_error(tmp_path: Path, content: bytes | None, error: type) -> None:
    tarball = tmp_path / "linux-source-7.3.tar.xz"
    if content is not None:
        tarball.write_bytes(content)
    with pytest.raises(error, match=str(tarball)):
        source.resolve(Source("v7.3", tarball=tarball), Cache(tmp_path / "cache"))


def test_a_tarball_with_two_top_directories_is_refused_at_import(tmp_path: Path) -> None:
    tarball = kernel_tarball(tmp_path / "linux-source-7.3.tar.xz", "7.3.4")
    with tarfile.open(tarball, "r:xz") as archive:
        members = [(m, archive.extractfile(m).read()) for m in archive]  # type: ignore[union-attr]
    with tarfile.open(tarball, "w:xz") as archive:
        for member, data in members:
            archive.addfile(member, io.BytesIO(data))
        extra = tarfile.TarInfo("other/README")
        archive.addfile(extra, io.BytesIO(b""))
    cache = Cache(tmp_path / "cache")
    resolved = source.resolve(Source("v7.3", tarball=tarball), cache)
    with pytest.raises(UserError, match="2 top-level entries"):
        source.ensure_repo(resolved, cache)
    assert not cache.source("linux-7.3.4").exists()


def test_resolving_a_matrix_replaces_the_source_in_every_cell(tmp_path: Path) -> None:
    tarball = kernel_tarball(tmp_path / "linux-source-7.3.tar.xz", "7.3.4")
    path = _matrix_file(tmp_path, f'tarball = "{tarball}"\nbase = "v7.3"', '"base", "series"')
    m = source.resolve_matrix(matrix.load(path), Cache(tmp_path / "cache"))
    assert {c.source for c in m.cells} == {m.source} and m.source.base == "v7.3.4"


@pytest.mark.parametrize("base", ["v7", "7.3", "v7.3.4\n", "v7.3/../../x", "../../escaped"])
def test_a_tarball_base_that_is_not_a_release_is_refused_in_the_matrix(tmp_path: Path, base: str) -> None:
    path = _matrix_file(tmp_path, f"base = {json.dumps(base)}", '"base"')
    with pytest.raises(UserError, match="a tarball's base is a stable line"):
        matrix.load(path)


def _matrix_file(tmp_path: Path, source: str, kernels: str) -> Path:
    """A one-kconfig x86_64 matrix with [source] holding source, beside its series and testcases."""
    (tmp_path / "kernel-series").mkdir()
    (tmp_path / "testcases").mkdir()
    (tmp_path / "on.config").write_text("CONFIG_TRANSPARENT_HUGEPAGE=y\n")
    path = tmp_path / "matrix.toml"
    path.write_text(
        f'[source]\n{source}\n[axes]\nkernel = [{kernels}]\narch = ["x86_64"]\nkconfig = ["on"]\n'
        '[kconfig.on]\nfragments = ["on.config"]\n'
    )
    return path
