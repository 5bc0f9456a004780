"""A console excerpt through the kernel's own scripts/decode_stacktrace.sh (addresses to file:line).

Only when the build's vmlinux and the tree's script are both there; the
excerpt goes in on stdin, as the script reads it. Anything that goes wrong
leaves the excerpt as it was (the report says it is not decoded).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from farm.host import proc
from farm.model.errors import InfraError

SCRIPT = Path("scripts") / "decode_stacktrace.sh"
TIMEOUT = 120.0


def stacktrace(excerpt: str, vmlinux: Path | None, tree: Path | None) -> str | None:
    """The decoded excerpt, or None when it cannot be decoded here."""
    if vmlinux is None or tree is None or not vmlinux.is_file() or not (tree / SCRIPT).is_file():
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".log", encoding="utf-8") as log:
        log.write(excerpt if excerpt.endswith("\n") else excerpt + "\n")
        log.flush()
        # The script reads stdin; bash redirects it from the file (argv only, no string is parsed as shell).
        argv = ["bash", "-c", 'exec bash "$0" "$1" "$2" < "$3"', str(tree / SCRIPT), str(vmlinux), str(tree), log.name]
        try:
            done = proc.run(argv, cwd=tree, timeout=TIMEOUT)
        except InfraError:
            return None
    return done.output if done.ok and done.output.strip() else None
