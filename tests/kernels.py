"""Kernel sources for the tests, small: tarballs as Debian ships them (a top directory whose Makefile names a
point release), tests/fakelinux as a tree, a tarball and a series of patches to it, and the fake vng."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
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


FAKELINUX = Path(__file__).parent / "fakelinux"
FAKEVNG = Path(__file__).parent / "fakevng" / "vng"


def fakelinux_tree(where: Path, version: str = "6.12.117") -> Path:
    """A copy of tests/fakelinux at where whose Makefile names version."""
    major, minor, sub = version.split(".")
    shutil.copytree(FAKELINUX, where)
    makefile = where / "Makefile"
    text = makefile.read_text()
    for name, value in (("VERSION", major), ("PATCHLEVEL", minor), ("SUBLEVEL", sub)):
        text = re.sub(rf"^{name} = \d+$", f"{name} = {value}", text, count=1, flags=re.M)
    makefile.write_text(text)
    return where


def fakelinux_tarball(path: Path, version: str) -> Path:
    """path as Debian's linux-source tarball of tests/fakelinux at version (top directory linux-source-X.Y)."""
    major, minor, _ = version.split(".")
    with tempfile.TemporaryDirectory() as tmp:
        tree = fakelinux_tree(Path(tmp) / f"linux-source-{major}.{minor}", version)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(path, "w:xz") as archive:
            archive.add(tree, tree.name)
    return path


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=zpfarm", "-c", "user.email=zpfarm@example.org", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def fakelinux_repo(where: Path, version: str) -> Path:
    """tests/fakelinux at where as a git repository: one commit, tagged v<version> (a user's kernel tree)."""
    repo = fakelinux_tree(where, version)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"Linux {version}")
    git(repo, "tag", f"v{version}")
    return repo


def fakelinux_series(out: Path, version: str, patches: Sequence[tuple[str, dict[str, str]]]) -> Path:
    """A kernel-series directory at out: one patch per (subject, {file: text appended}) on fakelinux at version."""
    with tempfile.TemporaryDirectory() as tmp:
        repo = fakelinux_repo(Path(tmp) / "linux", version)
        for subject, edits in patches:
            for name, text in edits.items():
                (repo / name).parent.mkdir(parents=True, exist_ok=True)
                with (repo / name).open("a") as f:
                    f.write(text)
            git(repo, "add", "-A")
            git(repo, "commit", "-qm", subject)
        git(repo, "format-patch", "-q", "-o", str(out), f"v{version}..HEAD")
    (out / "series").write_text("".join(f"{p.name}\n" for p in sorted(out.glob("*.patch"))))
    return out
