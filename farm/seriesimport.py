"""`zpfarm series import`: a series from where it lives into a series directory with series.json.

The directory is made beside its destination and moved into place only when whole; a
destination that exists is never written over. `into_cache` is what `zpfarm run --series`
uses: the same import, kept under the cache by the patches' patchset hash and the posting
(series.json): a version that reposts the same patches under another cover letter gets its own.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from farm.host.cache import Cache
from farm.kernel import b4, posting, series
from farm.model.errors import UserError
from farm.model.seriesinfo import SeriesInfo
from farm.model.seriesinfo import load as load_info

INFO = "series.json"
COVER = "0000-cover-letter.patch"


@dataclass(frozen=True)
class Imported:
    directory: Path
    info: SeriesInfo


def import_series(
    text: str, out: Path, *, msgid: str | None = None, revision: int | None = None, notice: Callable[[str], None]
) -> Imported:
    """Import the series SOURCE `text` names into the new directory out."""
    if out.exists() or out.is_symlink():
        raise UserError(f"-o {out}: exists (zpfarm writes a new directory; remove it or choose another)")
    if not out.parent.is_dir():
        raise UserError(f"-o {out}: its directory {out.parent} does not exist")
    source = b4.parse(text)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as tmp:
        staged = _stage(source, Path(tmp), msgid, revision, notice)
        staged.rename(out)
    return Imported(out, load_info(out / INFO))


def into_cache(text: str, cache: Cache, notice: Callable[[str], None]) -> Imported:
    """Import SOURCE under the cache (series/<patchset hash>-<series.json's>); the same posting again reuses it."""
    root = cache.root / "series"
    root.mkdir(parents=True, exist_ok=True)
    source = b4.parse(text)
    with tempfile.TemporaryDirectory(prefix=".import-", dir=root) as tmp:
        staged = _stage(source, Path(tmp), None, None, notice)
        posting_digest = hashlib.sha256((staged / INFO).read_bytes()).hexdigest()[:16]
        where = root / f"{series.load(staged).hash}-{posting_digest}"
        if not (where / INFO).is_file():
            shutil.rmtree(where, ignore_errors=True)  # not one of ours: they are moved in whole (under series/)
            try:
                staged.rename(where)
            except OSError:
                if not (where / INFO).is_file():  # another run moving the same import in first is fine
                    raise
    return Imported(where, load_info(where / INFO))


def _stage(
    source: b4.Source, tmp: Path, msgid: str | None, revision: int | None, notice: Callable[[str], None]
) -> Path:
    """The whole series directory, made in tmp/series."""
    staged = tmp / "series"
    logs = tmp / "logs"
    logs.mkdir()
    if source.kind is b4.Kind.DIRECTORY:
        _copy_directory(source.path, staged)
        info = posting.describe(staged, link=source.link)
    else:
        mbox = source.path.resolve() if source.kind is b4.Kind.MBOX else tmp / "thread.mbox"
        if source.kind is b4.Kind.MBOX and not mbox.is_file():
            raise UserError(f"mbox:{source.value}: no such file")
        if source.kind.network:
            notice(f"fetching {source.value}")
            b4.fetch(source, mbox, logs / "fetch.log")
        wanted = msgid or (source.value if source.kind in (b4.Kind.MSGID, b4.Kind.URL) else None)
        quilt, cover = b4.am(mbox, tmp / "am", logs / "b4-am.log", wanted, revision)
        _copy_quilt(quilt, cover, staged)
        info = posting.describe(staged, thread=mbox, link=source.link)
    (staged / INFO).write_text(info.dump(), encoding="utf-8")
    load_info(staged / INFO)  # what was written reads back
    return staged


def _copy_directory(src: Path, dst: Path) -> None:
    """The series file, its patches and the cover letter of a series directory (nothing else)."""
    loaded = _inside(series.load(src))
    dst.mkdir()
    for p in (*sorted(src.glob(f"{posting.COVER_PREFIX}*.patch"))[:1], *loaded.patches):
        if p.is_symlink() or not p.is_file():
            raise UserError(f"{p}: not a plain file")
        shutil.copyfile(p, dst / (COVER if p.name.startswith(posting.COVER_PREFIX) else p.name))
    shutil.copyfile(src / "series", dst / "series")


def _copy_quilt(quilt: Path, cover: Path | None, dst: Path) -> None:
    """b4's quilt directory (its file names are its own), with the cover letter as 0000-cover-letter.patch."""
    dst.mkdir()
    for p in quilt.iterdir():
        if p.is_file() and not p.is_symlink():
            shutil.copyfile(p, dst / p.name)
    if cover is not None:
        shutil.copyfile(cover, dst / COVER)
    _inside(series.load(dst))  # b4 wrote a series file that names its patches, there


def _inside(loaded: series.Series) -> series.Series:
    """The series, when its `series` file names only files of its own directory (no "../", no "/")."""
    for p in loaded.patches:
        if p.parent != loaded.directory or p.name in (".", ".."):
            raise UserError(f"{loaded.directory / 'series'}: {p} is not a file of the series' own directory")
    return loaded
