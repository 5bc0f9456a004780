"""git as the farm uses it: through proc, with a fixed identity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from farm.host import proc
from farm.model.errors import InfraError

# Commits the farm makes (the tarball import, applied patches) must not depend
# on the user's git config, so every machine gets the same hashes.
IDENTITY = {
    "GIT_AUTHOR_NAME": "zpfarm",
    "GIT_AUTHOR_EMAIL": "zpfarm@localhost",
    "GIT_COMMITTER_NAME": "zpfarm",
    "GIT_COMMITTER_EMAIL": "zpfarm@localhost",
}


def run(repo: Path, args: Sequence[str], env: Mapping[str, str] | None = None) -> proc.Completed:
    return proc.run(["git", "-C", str(repo), *args], env={**IDENTITY, **(env or {})})


def out(repo: Path, args: Sequence[str]) -> str:
    """stdout of a git query that must succeed (raises InfraError otherwise)."""
    return proc.capture(["git", "-C", str(repo), *args]).strip()


def checkout(tree: Path, commit: str) -> None:
    """Put a worktree at commit (detached), dropping anything left over; only files that differ change."""
    if out(tree, ["rev-parse", "HEAD"]) == commit:
        return
    run(tree, ["am", "--abort"])
    for args in (["checkout", "-q", "--detach", "-f", commit], ["clean", "-fdq"]):
        done = run(tree, args)
        if not done.ok:
            raise InfraError(f"git {args[0]} {commit[:12]} in {tree}: {done.tail(2)}")


def resolve(repo: Path, ref: str) -> str | None:
    """The commit a ref names, or None."""
    done = run(repo, ["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"])
    return done.output.strip() if done.ok else None
