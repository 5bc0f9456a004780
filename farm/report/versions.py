"""Two versions of a series, patch by patch: paired by patch-id, then by subject.

A patch whose patch-id is in both versions is the same patch (its message or trailers may
have changed: it builds the same kernel); one whose subject is in both but whose patch-id
is not was changed; the rest are new or dropped. Per-patch results (build-each's cases,
"NNNN subject") are paired the same way, beside `git range-diff`'s summary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from farm.model.results import Status
from farm.model.seriesinfo import PatchInfo, SeriesInfo
from farm.report.compare import GOOD, Case

_EACH = re.compile(r"(\d{4}) (.+)")  # build-each's case name: "0003 mm/gup: ..."
_WORST = (Status.INFRA, Status.INPUT, Status.CRASH, Status.BUILD, Status.FAIL, Status.XFAIL, Status.SKIP, Status.PASS)


class Kind(Enum):
    SAME = "="  # the same patch-id
    CHANGED = "!"  # the same subject, another patch-id
    NEW = ">"
    DROPPED = "<"


@dataclass(frozen=True)
class Pair:
    kind: Kind
    before: int | None  # 1-based position in the first version
    after: int | None
    subject: str


def pair(first: SeriesInfo, second: SeriesInfo) -> list[Pair]:
    """The patches of both versions, in the second's order, the dropped ones last."""
    old = dict(enumerate(first.patches, 1))
    pairs = []
    for n, patch in enumerate(second.patches, 1):
        match = _take(old, "patch_id", patch.patch_id)
        kind = Kind.SAME
        if match is None:
            match = _take(old, "subject", patch.subject)
            kind = Kind.CHANGED
        pairs.append(Pair(kind if match is not None else Kind.NEW, match, n, patch.subject))
    pairs += [Pair(Kind.DROPPED, n, None, p.subject) for n, p in old.items()]
    return pairs


def _take(patches: dict[int, PatchInfo], field: str, value: str) -> int | None:
    """The position of the first patch left whose field has value, taken out of patches."""
    for n, p in patches.items():
        if getattr(p, field) == value:
            del patches[n]
            return n
    return None


def per_patch(cases: Sequence[Case]) -> dict[int, Status]:
    """The worst status of each patch (by position) over build-each's suites."""
    found: dict[int, Status] = {}
    for case in cases:
        m = _EACH.fullmatch(case.name)
        if m and int(m.group(1)) > 0:
            n = int(m.group(1))
            found[n] = min(found.get(n, Status.PASS), case.status, key=_WORST.index)
    return found


def render(
    first: SeriesInfo,
    second: SeriesInfo,
    pairs: Sequence[Pair],
    results: tuple[Mapping[int, Status], Mapping[int, Status]] = ({}, {}),
    range_diff: Sequence[str] = (),
) -> str:
    """Plain text: a line per patch, then the range-diff summary (or why there is none)."""
    lines = [f"v{first.revision} ({len(first.patches)} patches) -> v{second.revision} ({len(second.patches)} patches)"]
    width = max((len(p.subject) for p in pairs), default=10)
    for p in pairs:
        before = results[0].get(p.before or 0)
        after = results[1].get(p.after or 0)
        outcome = f"  {_word(before)} -> {_word(after)}" if before or after else ""
        moved = "  RESULT CHANGED" if before and after and (before in GOOD) != (after in GOOD) else ""
        lines.append(f"{_pos(p.before)} {p.kind.value} {_pos(p.after)}  {p.subject:<{width}}{outcome}{moved}".rstrip())
    counts = {k: sum(1 for p in pairs if p.kind is k) for k in Kind}
    lines.append(
        f"same: {counts[Kind.SAME]}, changed: {counts[Kind.CHANGED]}, new: {counts[Kind.NEW]}, "
        f"dropped: {counts[Kind.DROPPED]}"
    )
    if range_diff:
        lines += ["", "git range-diff:", *(f"  {line}" for line in range_diff)]
    return "\n".join(lines) + "\n"


def regressed(pairs: Sequence[Pair], results: tuple[Mapping[int, Status], Mapping[int, Status]]) -> list[str]:
    """Subjects of the patches whose result was good in the first version and is not in the second."""
    return [
        p.subject
        for p in pairs
        if results[0].get(p.before or 0) in GOOD
        and (after := results[1].get(p.after or 0)) is not None
        and after not in GOOD
    ]


def _pos(n: int | None) -> str:
    return f"{n:>3}" if n is not None else "  -"


def _word(status: Status | None) -> str:
    return status.value if status else "-"
