"""Kernel source tarballs as Debian ships them, small: a top directory whose Makefile names a point release."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from farm import resolve
from farm.host.cache import Cache, default_root
from farm.kernel import source


def kernel_tarball(path: Path, version: str, top: str = "") -> Path:
    """path as a .tar.xz of TOP/Makefile (VERSION, PATCHLEVEL, SUBLEVEL of version) and one source file."""
    major, minor, sub = version.split(".")
    top = top or f"linux-source-{major}.{minor}"
    files = {
        "Makefile": f"# SPDX-License-Identifier: GPL-2.0\nVERSION = {major}\nPATCHLEVEL = {minor}\nSUBLEVEL = {sub}\n",
        "mm/shmem.c": f"/* Linux {version} */\n",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:xz") as archive:
        for name, text in files.items():
            data = text.encode()
            member = tarfile.TarInfo(f"{top}/{name}")
            member.size, member.mtime = len(data), 0
            archive.addfile(member, io.BytesIO(data))
    return path


def imported(matrix_file: Path, name: str = "") -> tuple[Path, str]:
    """The farm's repository of a matrix's source (named name), imported as zpfarm run does; its tag."""
    cache = Cache(default_root())
    (src,) = [s for s in resolve.load(matrix_file, cache).sources if s.name == name]
    return source.ensure_repo(src, cache), src.base
