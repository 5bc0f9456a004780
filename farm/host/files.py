"""Files replaced atomically: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from farm.model.errors import InfraError, UserError


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write data to path: temp file in the same directory, fsync, rename (InfraError when it cannot)."""
    try:
        with replacing(path, mode) as tmp:
            tmp.write_bytes(data)
    except OSError as e:
        raise InfraError(f"{path}: could not write it ({e.strerror or e})") from None


def writable_file(path: Path, option: str) -> Path:
    """path as a file this process can write (its directory made if missing), or one line naming option.

    Checked before long work, so that a run's results are never lost at its end.
    """
    if path.is_dir():
        raise UserError(f"{option} {path}: is a directory (give a file name)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as e:
        raise UserError(f"{option} {path}: cannot write in {path.parent} ({e.strerror or e})") from None
    return path


@contextmanager
def replacing(path: Path, mode: int = 0o644) -> Iterator[Path]:
    """A temp path beside path to fill; on success it is fsynced and renamed onto path.

    On any exception the temp file is removed and path is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync_file(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(path.parent, os.O_RDONLY, ignore=True)


def _fsync_file(path: Path, mode: int) -> None:
    os.chmod(path, mode)
    _fsync(path, os.O_RDONLY)


def _fsync(path: Path, flags: int, *, ignore: bool = False) -> None:
    try:
        fd = os.open(path, flags)
    except OSError:
        if ignore:
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not ignore:
            raise
    finally:
        os.close(fd)
