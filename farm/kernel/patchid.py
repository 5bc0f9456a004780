"""`git patch-id`: a patch's identity without its message, its trailers or its line numbers.

Two kinds: --stable (what b4, lore and patchwork call a patch-id; it ignores whitespace too) for
series.json and for pairing versions of a series, and --verbatim (whitespace counts) for build
keys, so a v2 that only re-indents a string literal is not mistaken for v1's kernel.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from enum import Enum
from pathlib import Path

from farm.host import proc
from farm.model.errors import InfraError, UserError

PREREQUISITE_DEPTH = 1000  # commits of the base searched for a series' prerequisite patches


class Kind(Enum):
    STABLE = "--stable"
    VERBATIM = "--verbatim"


def of(patch: Path, kind: Kind = Kind.STABLE) -> str:
    """The patch-id of one patch file (an mbox message or `git format-patch` output)."""
    done = proc.run(["git", "patch-id", kind.value], stdin=patch, timeout=120)
    if not done.ok:
        raise InfraError(f"git patch-id {kind.value} < {patch} failed: {done.tail(2)}")
    words = done.output.split()
    if not words:
        raise UserError(f"{patch}: no diff in it (git patch-id found nothing to hash)")
    return words[0]


def identity(patch: Path) -> str:
    """The verbatim patch-id, or for a file with no diff in it (git am will refuse it) the sha256 of its bytes."""
    try:
        return of(patch, Kind.VERBATIM)
    except UserError:
        return "bytes " + hashlib.sha256(patch.read_bytes()).hexdigest()


def missing(repo: Path, ref: str, wanted: Sequence[str], depth: int = PREREQUISITE_DEPTH) -> list[str]:
    """The patch-ids of wanted that none of the last `depth` commits of ref has (a series' prerequisites)."""
    if not wanted:
        return []
    with tempfile.TemporaryDirectory(prefix="zpfarm-patch-ids-") as tmp:
        history = Path(tmp) / "log"
        done = proc.run(
            ["git", "-C", str(repo), "log", "-p", "--no-merges", f"-{depth}", ref], log=history, timeout=600
        )
        if not done.ok:
            raise InfraError(f"git log {ref} in {repo} failed: {done.tail(1)}")
        found = proc.run(["git", "patch-id", Kind.STABLE.value], stdin=history, timeout=600)
    if not found.ok:
        raise InfraError(f"git patch-id of {ref}'s history failed: {found.tail(1)}")
    have = {line.split()[0] for line in found.output.splitlines() if line.strip()}
    return [p for p in wanted if p not in have]
