"""`git patch-id`: a patch's identity without its message, its trailers or its line numbers.

Two kinds: --stable (what b4, lore and patchwork call a patch-id; it ignores whitespace too) for
series.json and for pairing versions of a series, and --verbatim (whitespace counts) for build
keys, so a v2 that only re-indents a string literal is not mistaken for v1's kernel.
"""

from __future__ import annotations

import hashlib
from enum import Enum
from pathlib import Path

from farm.host import proc
from farm.model.errors import InfraError, UserError


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
