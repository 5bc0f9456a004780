"""zpfarm series import: a thread made from kernel-series/v6.12, through the real b4, into a series directory."""

from __future__ import annotations

import mailbox
import stat
from pathlib import Path

import lore
import pytest

from farm import seriesimport
from farm.host.cache import Cache
from farm.kernel import b4, patchid, series
from farm.model import seriesinfo
from farm.model.errors import InfraError, UserError


def _quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> seriesimport.Imported:
    where = tmp_path_factory.mktemp("lore")
    lore.thread(where / "thread.mbox", revision=2)
    return seriesimport.import_series(f"mbox:{where / 'thread.mbox'}", where / "v2", notice=_quiet)


def test_a_thread_imports_as_the_patches_of_the_repository_with_the_review_collected(
    imported: seriesimport.Imported,
) -> None:
    repo = series.load(lore.V612)
    got = series.load(imported.directory)
    assert len(got.patches) == len(repo.patches) == 12  # kernel-series/v6.12/series lists 12
    assert [patchid.of(p) for p in got.patches] == [patchid.of(p) for p in repo.patches]
    assert [p.patch_id for p in imported.info.patches] == [patchid.of(p) for p in repo.patches]
    reviewed = [n for n, p in enumerate(imported.info.patches, 1) if ("Reviewed-by", lore.REVIEWER) in p.trailers]
    assert reviewed == [8]
    assert [p.name for p in got.patches] == [p.file for p in imported.info.patches]
    assert not [t for p in imported.info.patches for t in p.trailers if t[0] == "Reported-by"]
    assert all("Reported-by" not in p.read_text() for p in got.patches)


def test_series_json_has_the_version_change_id_base_and_message_ids(imported: seriesimport.Imported) -> None:
    info = imported.info
    assert (info.revision, info.change_id, info.base_commit) == (2, lore.CHANGE_ID, lore.BASE_612)
    assert info.cover_message_id == lore.cover_id(2)
    assert [p.message_id for p in info.patches] == [lore.patch_id(2, n) for n in range(1, 13)]
    assert info.subject == "mm/shmem: map the shared zeropage on read faults of holes"
    assert (imported.directory / "0000-cover-letter.patch").is_file()
    assert (imported.directory / "series.json").read_text() == info.dump()


def test_of_two_versions_in_one_mbox_each_is_imported_by_its_revision(two_versions: tuple[Path, Path]) -> None:
    first, newest = (seriesinfo.load(d / "series.json") for d in two_versions)
    assert (newest.revision, first.revision) == (2, 1)
    changed = [a.subject for a, b in zip(first.patches, newest.patches, strict=True) if a.patch_id != b.patch_id]
    assert changed == [first.patches[8].subject]
    assert newest.patches[0].message_id == lore.patch_id(2, 1) and first.patches[0].message_id == lore.patch_id(1, 1)


def test_without_a_revision_the_newest_is_imported(two_versions: tuple[Path, Path], tmp_path: Path) -> None:
    newest = seriesimport.import_series(
        f"mbox:{two_versions[0].parent / 'thread.mbox'}", tmp_path / "newest", notice=_quiet
    )
    assert newest.info.revision == 2
    assert [p.patch_id for p in newest.info.patches] == [
        p.patch_id for p in seriesinfo.load(two_versions[1] / "series.json").patches
    ]


def test_a_series_directory_imports_with_its_patch_ids_and_no_thread(tmp_path: Path) -> None:
    info = seriesimport.import_series(str(lore.V612), tmp_path / "copy", notice=_quiet).info
    assert [p.patch_id for p in info.patches] == [patchid.of(p) for p in series.load(lore.V612).patches]
    assert info.revision == 3 and all(p.message_id is None for p in info.patches)


def test_an_existing_destination_is_never_written_over(tmp_path: Path) -> None:
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "mine").write_text("keep")
    with pytest.raises(UserError, match="exists"):
        seriesimport.import_series(str(lore.V612), tmp_path / "v2", notice=_quiet)
    assert (tmp_path / "v2" / "mine").read_text() == "keep"


def test_an_mbox_without_a_series_is_bad_input_and_leaves_nothing(tmp_path: Path) -> None:
    box = mailbox.mbox(tmp_path / "chat.mbox")
    box.add(b"From: a@example.org\nSubject: hello\nMessage-Id: <hello@example.org>\n\nno patch here\n")
    box.flush()
    with pytest.raises(UserError, match="no series"):
        seriesimport.import_series(f"mbox:{tmp_path / 'chat.mbox'}", tmp_path / "out", notice=_quiet)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chat.mbox"]


def test_into_the_cache_the_same_patches_land_in_the_same_directory(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    first = seriesimport.into_cache(str(lore.V612), cache, _quiet)
    again = seriesimport.into_cache(str(lore.V612), cache, _quiet)
    assert first.directory == again.directory
    assert first.directory.name.startswith(series.load(first.directory).hash + "-")
    assert sorted(p.name for p in (cache.root / "series").iterdir()) == [first.directory.name]


def test_an_unreachable_thread_is_one_line_of_infrastructure_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline = tmp_path / "b4"  # what b4 says without a network, as it says it
    offline.write_text(
        "#!/bin/sh\necho 'Looking up c@example.org'\n"
        "echo 'Could not retrieve thread: All hosts failed: Name or service not known'\nexit 1\n"
    )
    offline.chmod(offline.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(b4, "tool", lambda name: str(offline))
    with pytest.raises(InfraError) as caught:
        seriesimport.import_series("msgid:c@example.org", tmp_path / "out", notice=_quiet)
    assert "\n" not in str(caught.value) and "Could not retrieve thread" in str(caught.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["../outside.patch", "/etc/hostname"])
def test_a_series_file_naming_a_file_outside_its_directory_is_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / "outside.patch").write_text("not part of the series\n")
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "series").write_text(f"{name}\n")
    with pytest.raises(UserError, match="not a file of the series' own directory"):
        seriesimport.import_series(str(tmp_path / "s"), tmp_path / "out", notice=_quiet)
    assert not (tmp_path / "out").exists()


def test_a_patchwork_source_without_git_pw_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no git-pw anywhere
    monkeypatch.setattr(b4, "tool", lambda name: name)
    with pytest.raises(InfraError, match="pw: needs git-pw"):
        seriesimport.import_series("pw:42", tmp_path / "out", notice=_quiet)
    assert not (tmp_path / "out").exists()


def test_in_the_cache_the_same_patches_under_another_cover_letter_keep_their_own_series_json(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    for revision in (3, 4):
        lore.thread(tmp_path / f"v{revision}.mbox", revision=revision, replies=False)
    v3, v4 = (seriesimport.into_cache(f"mbox:{tmp_path / f'v{n}.mbox'}", cache, _quiet) for n in (3, 4))
    assert series.load(v3.directory).hash == series.load(v4.directory).hash  # the same patch files
    assert (v3.info.cover_message_id, v4.info.cover_message_id) == (lore.cover_id(3), lore.cover_id(4))
    assert v3.directory != v4.directory
