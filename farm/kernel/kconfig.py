"""Kernel configuration from fragments, with the kernel's own tools.

scripts/kconfig/merge_config.sh -n (allnoconfig + the fragments), then
olddefconfig, then a check in the manner of KUnit's validate_config: every
option a fragment asks for must have survived, or the build would silently
test something else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from farm.model.errors import UserError

_SET = re.compile(r"^(CONFIG_\w+)=(.*)$")
_UNSET = re.compile(r"^# (CONFIG_\w+) is not set$")


@dataclass(frozen=True)
class Dropped:
    option: str
    wanted: str  # "y", "n", "64", '"str"'
    got: str  # "n" when absent
    fragment: Path


def parse(text: str) -> dict[str, str]:
    """CONFIG_X -> value ('n' for '# CONFIG_X is not set')."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if m := _SET.match(line):
            values[m[1]] = m[2]
        elif m := _UNSET.match(line):
            values[m[1]] = "n"
    return values


def dropped(fragments: Sequence[Path], config: Mapping[str, str]) -> list[Dropped]:
    """Requested options whose final value differs (later fragments win)."""
    wanted: dict[str, tuple[str, Path]] = {}
    for frag in fragments:
        for option, value in parse(frag.read_text(encoding="utf-8")).items():
            wanted[option] = (value, frag)
    return [
        Dropped(option, value, config.get(option, "n"), frag)
        for option, (value, frag) in sorted(wanted.items())
        if config.get(option, "n") != value
    ]


def check(fragments: Sequence[Path], config_file: Path) -> None:
    """Raise UserError naming the first dropped option, and how many there are."""
    lost = dropped(fragments, parse(config_file.read_text(encoding="utf-8")))
    if lost:
        d = lost[0]
        more = f" (and {len(lost) - 1} more)" if len(lost) > 1 else ""
        raise UserError(
            f"{d.option}={d.wanted} from {d.fragment.name} did not survive olddefconfig "
            f"(got {d.got}): a dependency is missing{more}"
        )
