"""`git range-diff` of two applied versions of a series: its summary lines, one per patch."""

from __future__ import annotations

from pathlib import Path

from farm.kernel import git
from farm.model.errors import InfraError


def summary(tree: Path, base: str, first: str, second: str) -> list[str]:
    """ "1:  abc = 1:  def subject" lines for base..first against base..second."""
    done = git.run(tree, ["range-diff", "--no-color", "--no-patch", f"{base}..{first}", f"{base}..{second}"])
    if not done.ok:
        raise InfraError(f"git range-diff in {tree} failed: {done.tail(1)}")
    return [line.rstrip() for line in done.output.splitlines() if line.strip()]
