"""The base kernel: a git repository the farm can make worktrees from.

The embedded default is Debian's linux-source tarball, unpacked once into the
cache and committed as a single commit tagged with its point release (v7.3.4),
with fixed dates so the commit hash is the same on every machine. A matrix base
that names a stable line (v7.3) takes whichever point release the tarball holds:
Debian moves its package to each new one, and the farm imports it once.
A user's own git tree is used as it is: the farm only adds worktrees under its cache.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from farm.host import proc, provenance
from farm.host.cache import Cache
from farm.host.files import atomic_write
from farm.kernel import git
from farm.model.errors import InfraError, UserError
from farm.model.matrix import STABLE_LINE, Matrix, Source

_IMPORT_DATE = "2000-01-01T00:00:00Z"
_IMPORTED = "zpfarm-import.json"  # in the imported repo's .git: the tarball it came from
_MAKEFILE_VERSION = re.compile(r"^(VERSION|PATCHLEVEL|SUBLEVEL) = (\d+)", re.M)


@dataclass(frozen=True)
class Tarball:
    """What a kernel source tarball holds: its point release, and the file's sha256."""

    version: str  # 7.3.4
    sha256: str


def resolve_matrix(m: Matrix, cache: Cache) -> Matrix:
    """The matrix with every tarball source resolved (see resolve), in its cells too."""
    resolved = {s: resolve(s, cache) for s in m.sources}
    if all(s is r for s, r in resolved.items()):
        return m
    cells = tuple(replace(c, source=resolved[c.source]) for c in m.cells)
    return replace(m, sources=tuple(resolved.values()), cells=cells)


def resolve(src: Source, cache: Cache) -> Source:
    """src with base as the exact tag its tarball holds, and the tarball's sha256.

    A stable line (v7.3) becomes the tarball's point release (v7.3.4). A pinned
    point release must be the tarball's, or already imported in the cache.
    A tree is used as it is.
    """
    if src.tarball is None:
        return src
    line = STABLE_LINE.fullmatch(src.base)
    if line is None and (imported := _imported(cache.source(repo_name(src)), src.base)) is not None:
        return replace(src, tarball_sha256=imported.sha256)
    found = read_tarball(src.tarball, cache)
    if line is not None:
        if not found.version.startswith(f"{line[1]}.{line[2]}."):
            raise UserError(f"{src.tarball} holds Linux {found.version}, not the {src.base} line the matrix names")
        return replace(src, base=f"v{found.version}", line=src.base, tarball_sha256=found.sha256)
    if f"v{found.version}" != src.base:
        raise UserError(_pinned_elsewhere(src, found.version))
    return replace(src, tarball_sha256=found.sha256)


def read_tarball(tarball: Path, cache: Cache) -> Tarball:
    """The tarball's point release (its top Makefile; remembered by sha256) and sha256."""
    if not tarball.is_file():
        raise InfraError(f"{tarball}: kernel source tarball not found (./install.sh installs it)")
    try:
        sha = _tarball_sha256(tarball, cache.source(".tarballs"))
    except OSError as e:
        raise InfraError(f"{tarball}: cannot read the kernel source tarball ({e.strerror or e})") from None
    memo = cache.source(".tarballs") / f"{sha}.version"
    if memo.is_file():
        return Tarball(memo.read_text().strip(), sha)
    version = _tarball_version(tarball)
    atomic_write(memo, f"{version}\n".encode())
    return Tarball(version, sha)


def _tarball_sha256(tarball: Path, memos: Path) -> str:
    """The tarball's sha256, hashed once per state of the file as git's index knows one: the same
    device, inode, size, mtime and ctime (any write changes ctime, which no user can set back).
    Hashing Debian's 7.3 tarball takes about half a second, which every command paid."""
    st = tarball.stat()
    memo = memos / f"stat-{st.st_dev}-{st.st_ino}-{st.st_size}-{st.st_mtime_ns}-{st.st_ctime_ns}.sha256"
    if memo.is_file() and re.fullmatch(r"[0-9a-f]{64}", known := memo.read_text().strip()):
        return known
    sha = provenance.sha256(tarball)
    atomic_write(memo, f"{sha}\n".encode())
    return sha


def _tarball_version(tarball: Path) -> str:
    """VERSION.PATCHLEVEL.SUBLEVEL from TOP/Makefile, reading the archive only as far as that member."""
    try:
        with tarfile.open(tarball, "r|*") as archive:
            for member in archive:
                parts = member.name.split("/")
                if len(parts) == 2 and parts[1] == "Makefile" and member.isfile():
                    text = archive.extractfile(member).read(64 * 1024).decode("utf-8", "replace")  # type: ignore[union-attr]
                    return _version(text, f"{tarball}: {member.name}")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise UserError(f"{tarball}: not a readable tar archive ({e})") from None
    raise UserError(f"{tarball}: no top-level Makefile: not a kernel source tarball")


def _pinned_elsewhere(src: Source, version: str) -> str:
    """The mismatch of a pinned base, and how to get the pinned point release or float."""
    assert src.tarball is not None
    package = src.tarball.name.removesuffix(".tar.xz")
    pinned = src.base.removeprefix("v")
    line = ".".join(pinned.split(".")[:2])
    return (
        f"{src.tarball} holds Linux {version}, but the matrix pins {src.base}: install that point release "
        f"(apt-cache policy {package}; apt-get install {package}={pinned}-<debian revision>, while the archive "
        f'keeps it), or write base = "v{line}" to take whichever {line}.y the tarball holds'
    )


def _imported(repo: Path, tag: str) -> Tarball | None:
    """What the farm's repository for tag was imported from, when it holds tag."""
    if not repo.is_dir() or git.resolve(repo, f"refs/tags/{tag}") is None:
        return None
    try:
        data = json.loads((repo / ".git" / _IMPORTED).read_text())
        return Tarball(str(data["version"]), str(data["sha256"]))
    except (OSError, ValueError, KeyError, TypeError):
        return Tarball(tag.removeprefix("v"), "")  # imported before the farm recorded it


def repo_name(source: Source) -> str:
    """A short, stable name for the repository, used in cache paths."""
    if source.tree is not None:
        digest = hashlib.sha256(str(source.tree).encode()).hexdigest()[:8]
        return f"{source.tree.name}-{digest}"
    return f"linux-{source.base.removeprefix('v')}"


def ensure_repo(source: Source, cache: Cache) -> Path:
    """The repository holding source.base; imports the tarball the first time."""
    if source.tree is not None:
        if git.resolve(source.tree, source.base) is None:
            raise UserError(f"{source.tree}: no git ref {source.base!r} (check --base / [source] base)")
        return source.tree
    repo = cache.source(repo_name(source))
    if repo.is_dir() and git.resolve(repo, f"refs/tags/{source.base}") is not None:
        return repo
    if source.tarball is None or not source.tarball.is_file():
        raise InfraError(f"{source.tarball}: kernel source tarball not found (./install.sh installs it)")
    _import_tarball(source.tarball, source.base, repo, source.tarball_sha256)
    return repo


def base_commit(repo: Path, source: Source) -> str:
    """The commit source.base names in repo (InfraError if it went missing)."""
    commit = git.resolve(repo, source.base)
    if commit is None:
        raise InfraError(
            f"{repo}: the base {source.base!r} is gone from the farm's repository (remove it to re-import)"
        )
    return commit


def _import_tarball(tarball: Path, tag: str, repo: Path, sha256: str) -> None:
    """Unpack, check the version, commit, tag; move into place only when whole."""
    repo.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=repo.parent, prefix=".import-") as tmp:
        done = proc.run(["tar", "-xf", str(tarball), "-C", tmp])
        if not done.ok:
            raise InfraError(f"{tarball}: could not unpack: {done.tail(3)}")
        tops = list(Path(tmp).iterdir())
        if len(tops) != 1 or not tops[0].is_dir():
            raise UserError(f"{tarball}: holds {len(tops)} top-level entries, not one kernel directory")
        top = tops[0]
        version = kernel_version(top)
        if f"v{version}" != tag:
            raise UserError(f"{tarball} holds Linux {version}, but the matrix base is {tag}")
        env = {"GIT_AUTHOR_DATE": _IMPORT_DATE, "GIT_COMMITTER_DATE": _IMPORT_DATE}
        for args in (
            ["init", "-q", "-b", "zpfarm-import"],
            # No automatic gc, ever: the commit leaves ~90,000 loose objects, and gc --auto would
            # start a background delta repack of all of them (minutes of CPU, and a pack no faster
            # for what the farm does) after the commit and after each git am in the worktrees.
            ["config", "gc.auto", "0"],
            # -f: Debian's top-level .gitignore ignores everything at the top level.
            ["add", "-A", "-f"],
            ["commit", "-q", "-m", f"Linux {version}\n\nImported from {tarball.name}."],
            ["tag", tag],
        ):
            step = git.run(top, args, env)
            if not step.ok:
                raise InfraError(f"git {args[0]} in {top}: {step.tail(3)}")
        record = {"version": version, "tarball": str(tarball), "sha256": sha256}
        (top / ".git" / _IMPORTED).write_text(json.dumps(record, indent=2) + "\n")
        if repo.exists():
            shutil.rmtree(repo)
        top.rename(repo)


def kernel_version(tree: Path) -> str:
    """VERSION.PATCHLEVEL.SUBLEVEL from a kernel tree's Makefile."""
    try:
        text = (tree / "Makefile").read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise UserError(f"{tree}: not a kernel tree ({e.strerror or e})") from None
    return _version(text, str(tree))


def _version(makefile: str, where: str) -> str:
    fields = dict(_MAKEFILE_VERSION.findall(makefile))
    try:
        return f"{fields['VERSION']}.{fields['PATCHLEVEL']}.{fields['SUBLEVEL']}"
    except KeyError:
        raise UserError(f"{where}: not a kernel tree (no version in Makefile)") from None


def worktree(repo: Path, path: Path, commit: str) -> Path:
    """A detached worktree at path checked out at commit (made if missing)."""
    if not (path / ".git").exists():
        if path.exists():
            shutil.rmtree(path)
        git.run(repo, ["worktree", "prune"])
        path.parent.mkdir(parents=True, exist_ok=True)
        done = git.run(repo, ["worktree", "add", "--detach", str(path), commit])
        if not done.ok:
            raise InfraError(f"git worktree add {path}: {done.tail(3)}")
        return path
    git.checkout(path, commit)
    return path
