"""Compiler diagnostics in make's output, and which of them a patch adds.

A diagnostic is keyed by its file (relative to the tree), its kind and its
text with every line:column number taken out, so the same warning on a line
a patch moved is the same warning. A patch adds a warning when it shows one
more often than the base did, compiling the same objects.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# path:line[:col]: warning|error: text   (gcc and clang; "fatal error" too)
_DIAG = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+)(?::\d+)?: (?P<kind>warning|(?:fatal )?error): (?P<text>.*)$")
_NUMBERS = re.compile(r":\d+(?::\d+)?")
# make[3]: *** [../scripts/Makefile.build:229: mm/memory.o] Error 1
_FAILED = re.compile(r"\*\*\* \[[^\]]*?:\s*(?P<target>[^\s\]]+\.o)\] Error \d+")
# make[3]: *** No rule to make target 'mm/ksm.o'.  Stop.
_NO_RULE = re.compile(r"No rule to make target '(?P<target>[^']+\.o)'")


@dataclass(frozen=True)
class Diagnostic:
    file: str  # relative to the tree when it is in it
    line: int
    kind: str  # "warning" or "error"
    text: str
    raw: str  # the compiler's line as printed

    @property
    def short(self) -> str:
        """The compiler's line with the file relative to the tree (and without the column)."""
        return f"{self.file}:{self.line}: {self.kind}: {self.text}"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.file, self.kind, _NUMBERS.sub("", self.text))


def parse(output: str, build_dir: Path, tree: Path) -> list[Diagnostic]:
    """The warnings and errors in a compile's output, their files made relative to tree."""
    found = []
    for raw in output.splitlines():
        if m := _DIAG.match(raw.strip()):
            kind = "warning" if m["kind"] == "warning" else "error"
            found.append(
                Diagnostic(_relative(m["file"], build_dir, tree), int(m["line"]), kind, m["text"], raw.strip())
            )
    return found


def failed_objects(output: str) -> list[str]:
    """The objects make says it could not build."""
    return sorted({m["target"] for m in _FAILED.finditer(output)})


def absent_objects(output: str) -> list[str]:
    """The objects this config does not build at all (kbuild has no rule for them)."""
    return sorted({m["target"] for m in _NO_RULE.finditer(output)})


def added(now: Iterable[Diagnostic], before: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The diagnostics of now beyond those before (as many of each key as before are old)."""
    budget = Counter(d.key for d in before)
    new = []
    for d in now:
        if budget[d.key] > 0:
            budget[d.key] -= 1
        else:
            new.append(d)
    return new


def _relative(name: str, build_dir: Path, tree: Path) -> str:
    """A path as the compiler printed it (relative to O=, or absolute) made relative to the tree."""
    full = os.path.normpath(build_dir / name)
    root = os.path.normpath(tree)
    return os.path.relpath(full, root) if full.startswith(root + os.sep) else name
