"""The base kernel: a git repository the farm can make worktrees from.

The embedded default is Debian's linux-source tarball, unpacked once into the
cache and committed as a single commit tagged with the base (v6.12.117), with
fixed dates so the commit hash is the same on every machine. A user's own git
tree is used as it is: the farm only adds worktrees under its cache.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from pathlib import Path

from farm.host import proc
from farm.host.cache import Cache
from farm.kernel import git
from farm.model.errors import InfraError, UserError
from farm.model.matrix import Source

_IMPORT_DATE = "2000-01-01T00:00:00Z"


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
    _import_tarball(source.tarball, source.base, repo)
    return repo


def base_commit(repo: Path, source: Source) -> str:
    """The commit source.base names in repo (InfraError if it went missing)."""
    commit = git.resolve(repo, source.base)
    if commit is None:
        raise InfraError(
            f"{repo}: the base {source.base!r} is gone from the farm's repository (remove it to re-import)"
        )
    return commit


def _import_tarball(tarball: Path, tag: str, repo: Path) -> None:
    """Unpack, check the version, commit, tag; move into place only when whole."""
    repo.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=repo.parent, prefix=".import-") as tmp:
        done = proc.run(["tar", "-xf", str(tarball), "-C", tmp])
        if not done.ok:
            raise InfraError(f"{tarball}: could not unpack: {done.tail(3)}")
        (top,) = list(Path(tmp).iterdir())
        version = kernel_version(top)
        if f"v{version}" != tag:
            raise UserError(f"{tarball} holds Linux {version}, but the matrix base is {tag}")
        env = {"GIT_AUTHOR_DATE": _IMPORT_DATE, "GIT_COMMITTER_DATE": _IMPORT_DATE}
        for args in (
            ["init", "-q", "-b", "zpfarm-import"],
            # -f: Debian's top-level .gitignore ignores everything at the top level.
            ["add", "-A", "-f"],
            ["commit", "-q", "-m", f"Linux {version}\n\nImported from {tarball.name}."],
            ["tag", tag],
        ):
            step = git.run(top, args, env)
            if not step.ok:
                raise InfraError(f"git {args[0]} in {top}: {step.tail(3)}")
        if repo.exists():
            shutil.rmtree(repo)
        top.rename(repo)


def kernel_version(tree: Path) -> str:
    """VERSION.PATCHLEVEL.SUBLEVEL from a kernel tree's Makefile."""
    text = (tree / "Makefile").read_text(encoding="utf-8", errors="replace")
    fields = dict(re.findall(r"^(VERSION|PATCHLEVEL|SUBLEVEL) = (\d+)", text, re.M))
    try:
        return f"{fields['VERSION']}.{fields['PATCHLEVEL']}.{fields['SUBLEVEL']}"
    except KeyError:
        raise UserError(f"{tree}: not a kernel tree (no version in Makefile)") from None


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
