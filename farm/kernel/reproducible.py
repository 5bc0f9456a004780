"""A kernel build that does not depend on when, where or by whom it ran: same commit, same bytes (and ccache hits)."""

from __future__ import annotations

from pathlib import Path

from farm.kernel import git

BUILD_USER = "zpfarm"
BUILD_HOST = "zpfarm"


def reproducible_env(epoch: int) -> dict[str, str]:
    """make's environment for a kernel that does not depend on when, where or by whom it was built.

    epoch: the commit's committer date (commit_epoch()), so a rebuild of the
    same commit embeds the same date (`uname -v`) and ccache's inputs match.
    """
    return {
        "KBUILD_BUILD_TIMESTAMP": f"@{epoch}",
        "KBUILD_BUILD_USER": BUILD_USER,
        "KBUILD_BUILD_HOST": BUILD_HOST,
    }


def commit_epoch(tree: Path, commit: str) -> int:
    """The committer date of commit in tree, in seconds since the epoch."""
    return int(git.out(tree, ["show", "-s", "--format=%ct", commit]))
