"""Where a result came from: zpfarm's own revision, the tools' versions, the inputs' hashes.

Every suite carries these (as tuxrun's metadata.json does), so a result read
weeks later says which farm, QEMU, virtme-ng and compiler made it, from which
matrix file. Each tool is asked once per process.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
from importlib import metadata
from pathlib import Path

from farm.host import proc
from farm.model.errors import InfraError

CHECKOUT = Path(__file__).resolve().parents[2]  # the zpfarm checkout (an editable install runs from it)


@functools.cache
def zpfarm() -> str:
    """zpfarm's version, and its git commit when it runs from a checkout ("+dirty" with local changes)."""
    try:
        version = metadata.version("zpfarm")
    except metadata.PackageNotFoundError:
        version = "unknown"
    if not (CHECKOUT / ".git").exists():
        return version
    head = proc.run(["git", "-C", str(CHECKOUT), "rev-parse", "--short=12", "HEAD"], timeout=30)
    if not head.ok:
        return version
    dirty = proc.run(["git", "-C", str(CHECKOUT), "status", "--porcelain", "--untracked-files=no"], timeout=30)
    return f"{version} ({head.output.strip()}{'+dirty' if dirty.output.strip() else ''})"


def machine() -> str:
    """This machine as a result records it: 'name (x86_64, 2 cores, Linux 6.1.0-28-amd64)'."""
    return f"{platform.node()} ({platform.machine()}, {os.cpu_count() or '?'} cores, Linux {platform.release()})"


@functools.cache
def tool_version(*argv: str) -> str:
    """The first line a tool prints for its version flag, or why there is none."""
    try:
        done = proc.run(list(argv), timeout=60)
    except InfraError:
        return f"unavailable ({argv[0]} not found)"
    lines = done.output.strip().splitlines()
    return lines[0].strip() if done.ok and lines else f"unavailable ({argv[0]} exit {done.returncode})"


def sha256(path: Path) -> str:
    """The file's sha256 (OSError when it cannot be read)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
