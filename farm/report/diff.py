"""A patch series as hunks, and where each added line ends up at the series' tip (pure).

Each patch's hunks number their lines in the tree after the patches before it.
Coverage is measured on the tip, so every added line is carried forward
through the later patches: a line a later patch removes or rewrites has no
place at the tip (line None; the rewrite is that patch's added line).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")
_FUNCTION = re.compile(r"([A-Za-z_]\w*)\s*\(")


@dataclass(frozen=True)
class HunkLine:
    kind: str  # " " context, "+" added, "-" removed
    text: str
    added: int = -1  # for "+": its index in Patch.added


@dataclass(frozen=True)
class Hunk:
    file: str  # path in the tree, as `+++ b/PATH`
    header: str  # the @@ line
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    lines: tuple[HunkLine, ...]

    @property
    def context(self) -> str:
        """The function git named in the @@ line ("" when none)."""
        m = _FUNCTION.search(self.header.split("@@", 2)[-1])
        return m.group(1) if m else ""


@dataclass(frozen=True)
class Added:
    """One line a patch adds, and where it is at the series' tip."""

    file: str
    line: int | None  # at the tip; None when a later patch removed or rewrote it
    text: str
    context: str  # the hunk's function, as git named it


@dataclass(frozen=True)
class Patch:
    number: int  # 1-based position in the series
    name: str  # the patch file's name
    subject: str
    hunks: tuple[Hunk, ...]
    added: tuple[Added, ...]


def subject(text: str) -> str:
    """The mail's Subject, unfolded, without the [PATCH ...] tag."""
    m = re.search(r"^Subject: (.*(?:\n[ \t].*)*)", text, re.M)
    if not m:
        return ""
    return re.sub(r"^\[[^]]*\]\s*", "", " ".join(m.group(1).split()))


def parse_hunks(text: str) -> list[Hunk]:
    """The hunks of a unified diff (a git format-patch mail); deleted files are left out."""
    hunks: list[Hunk] = []
    lines = text.splitlines()
    file: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("diff --git "):
            file = None
        elif line.startswith("+++ "):
            target = line[4:].strip()
            file = target[2:] if target.startswith("b/") else None
        elif file is not None and (m := _HUNK.match(line)):
            old_len = int(m.group(2) or "1")
            new_len = int(m.group(4) or "1")
            body, i = _body(lines, i, old_len, new_len)
            hunks.append(Hunk(file, line, int(m.group(1)), old_len, int(m.group(3)), new_len, body))
    return hunks


def _body(lines: Sequence[str], i: int, old_len: int, new_len: int) -> tuple[tuple[HunkLine, ...], int]:
    """A hunk's lines, read by its counts (so a mail's `-- ` signature is never one)."""
    body: list[HunkLine] = []
    old = new = 0
    while i < len(lines) and (old < old_len or new < new_len):
        line = lines[i]
        i += 1
        kind, rest = (line[:1] or " "), line[1:]
        if kind == "\\":  # "\ No newline at end of file"
            continue
        if kind not in " +-":
            break
        body.append(HunkLine(kind, rest))
        old += kind != "+"
        new += kind != "-"
    return tuple(body), i


def series(patches: Iterable[tuple[str, str]]) -> list[Patch]:
    """(name, text) of each patch, in order -> Patches with their added lines placed at the tip."""
    parsed = [(name, text, parse_hunks(text)) for name, text in patches]
    where: dict[str, dict[tuple[int, int], int | None]] = {}  # file -> (patch, added) -> line
    numbered: list[list[HunkLine]] = []
    for p, (_name, _text, hunks) in enumerate(parsed):
        for file in dict.fromkeys(h.file for h in hunks):
            mine = [h for h in hunks if h.file == file]
            moved = _mover(mine)
            tracked = where.setdefault(file, {})
            for key, line in tracked.items():
                tracked[key] = None if line is None else moved(line)
        count = 0
        lines: list[HunkLine] = []
        for h in hunks:
            new = h.new_start
            for hl in h.lines:
                if hl.kind == "+":
                    where[h.file][p, count] = new
                    hl = HunkLine("+", hl.text, count)
                    count += 1
                new += hl.kind != "-"
                lines.append(hl)
        numbered.append(lines)
    out = []
    for p, (name, text, hunks) in enumerate(parsed):
        it = iter(numbered[p])
        placed = tuple(replace(h, lines=tuple(next(it) for _ in h.lines)) for h in hunks)
        added = tuple(
            Added(h.file, where[h.file][p, hl.added], hl.text, h.context)
            for h in placed
            for hl in h.lines
            if hl.kind == "+"
        )
        out.append(Patch(p + 1, name, subject(text), placed, added))
    return out


def _mover(hunks: Sequence[Hunk]) -> Callable[[int], int | None]:
    """old line -> new line (None: removed) for one patch's hunks of one file."""
    inside: dict[int, int | None] = {}
    for h in hunks:
        old, new = h.old_start, h.new_start
        for hl in h.lines:
            if hl.kind == " ":
                inside[old] = new
            elif hl.kind == "-":
                inside[old] = None
            old += hl.kind != "+"
            new += hl.kind != "-"

    def moved(line: int) -> int | None:
        if line in inside:
            return inside[line]
        shift = 0
        for h in hunks:
            end = h.old_start + h.old_len if h.old_len else h.old_start + 1
            if line >= end:
                shift += h.new_len - h.old_len
        return line + shift

    return moved
