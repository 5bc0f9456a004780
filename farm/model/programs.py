"""A program the guest runner executes: a value shared by the stages that build and boot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

GUEST_PYTHON = "/usr/bin/python3"


@dataclass(frozen=True)
class GuestTest:
    """One program the runner executes, with the files it needs."""

    name: str
    argv: tuple[str, ...]  # relative to the share directory, as the guest runs it
    files: tuple[Path, ...]  # host files copied into the share directory
    timeout: float
