"""The kernel's scripts/checkpatch.pl on one patch, run as `b4 prep --check` runs it.

b4 prep --check works on a b4-managed branch, not on a directory of patches, so zpfarm runs
the same command b4 does (`checkpatch.pl -q --terse --no-summary --mailback --showfile`) from
a kernel tree's top directory, where checkpatch finds its spelling and const-struct lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from farm.host import proc
from farm.model.errors import InfraError

FLAGS = ("-q", "--terse", "--no-summary", "--mailback", "--showfile")  # b4's prep-perpatch-check-cmd
_FINDING = re.compile(r"^(?:\S+?:\d+: )?(ERROR|WARNING|CHECK): (.+)$")
TIMEOUT_S = 300


@dataclass(frozen=True)
class Finding:
    level: str  # ERROR, WARNING, CHECK
    text: str  # "FILE:LINE: WARNING: ..." as checkpatch says it


def script(tree: Path) -> Path:
    return tree / "scripts" / "checkpatch.pl"


def find_tree(candidates: list[Path]) -> Path | None:
    """The first of candidates that is a kernel tree with scripts/checkpatch.pl."""
    return next((t for t in candidates if script(t).is_file()), None)


def check(patch: Path, tree: Path) -> list[Finding]:
    """What checkpatch finds in patch; an empty list is a clean patch."""
    done = proc.run(["perl", str(script(tree)), *FLAGS, str(patch.resolve())], cwd=tree, timeout=TIMEOUT_S)
    if done.timed_out:
        raise InfraError(f"checkpatch.pl on {patch.name} did not finish in {TIMEOUT_S} s")
    found = []
    for line in done.output.splitlines():
        if m := _FINDING.match(line.strip()):
            found.append(Finding(m.group(1), line.strip()))
    if done.returncode and not found:
        raise InfraError(f"checkpatch.pl on {patch.name} failed ({done.returncode}): {done.tail(2)}")
    return found
