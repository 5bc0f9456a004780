"""The compiles a sweep already did, kept beside each prepared config.

A compile's outcome is decided by the prepared config (its stamp: toolchain,
compiler version, config, seed, fragment, base), the tree's content (the
commit's tree hash, the same for a re-posted patch that did not change
anything before it) and the objects. When all three are the same, the stored
outcome and log are used and nothing runs: a re-posted series only compiles
the patches that changed and those after them. A compile that timed out is
never kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from farm.host import files
from farm.kernel import diag
from farm.kernel.sweepconf import Compiled

_DIR = ".zpfarm-compiled"


def key(stamp: str, tree_hash: str, objects: Sequence[str]) -> str:
    return hashlib.sha256("\n".join([stamp, tree_hash, *objects]).encode()).hexdigest()


def load(build_dir: Path, digest: str, log: Path) -> Compiled | None:
    """The stored outcome (its log copied to log), or None."""
    path = build_dir / _DIR / f"{digest}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(data["log_text"], encoding="utf-8")
        return Compiled(
            tuple(data["objects"]),
            tuple(data["failed"]),
            tuple(data["absent"]),
            tuple(diag.Diagnostic(**d) for d in data["diagnostics"]),
            0.0,
            log,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(build_dir: Path, digest: str, done: Compiled) -> None:
    if done.timed_out:
        return
    data = {
        "objects": list(done.objects),
        "failed": list(done.failed),
        "absent": list(done.absent),
        "diagnostics": [asdict(d) for d in done.diagnostics],
        "elapsed": done.elapsed,
        "log_text": done.log.read_text(encoding="utf-8", errors="replace") if done.log.is_file() else "",
    }
    files.atomic_write(build_dir / _DIR / f"{digest}.json", json.dumps(data).encode())
