"""zpfarm test names as KCIDB test paths (pure).

A KCIDB path is dot-separated segments of [a-zA-Z0-9_-]; zpfarm's names hold
brackets, commas, spaces and '=' ("coherence.read_then_write[memfd,private]").
The mapping is deterministic: the selftests go under "kselftest.<dir>."
("selftests-mm-cow.x" -> "kselftest.mm.cow.x"), the boot case is "boot",
everything else is under "zpfarm.<program>.". Each segment is slugged (a run
of other characters becomes "_"). Two names that slug alike both get a
suffix from their own name's sha256, so the result does not depend on the
order of the names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

PATTERN = re.compile(r"^([a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*)?$")  # the schema's own
_OTHER = re.compile(r"[^a-zA-Z0-9_-]+")
_SELFTEST = re.compile(r"^selftests-([a-z0-9_]+)-(.+)$")


def slug(text: str) -> str:
    """text as one path segment ("x" when nothing of it is left)."""
    return _OTHER.sub("_", text).strip("_") or "x"


def path(name: str) -> str:
    """The path of one test name, before collisions are resolved."""
    if name == "boot":
        return "boot"
    program, _, rest = name.partition(".")
    m = _SELFTEST.match(program)
    head = ["kselftest", slug(m[1]), slug(m[2])] if m else ["zpfarm", slug(program)]
    return ".".join(head + [slug(part) for part in rest.split(".") if part])


def paths(names: Iterable[str]) -> dict[str, str]:
    """name -> a valid path, pairwise distinct for distinct names."""
    unique = sorted(set(names))
    first = {name: path(name) for name in unique}
    taken: dict[str, list[str]] = {}
    for name, p in first.items():
        taken.setdefault(p, []).append(name)
    out = {}
    for name, p in first.items():
        out[name] = p if len(taken[p]) == 1 else f"{p}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    assert len(set(out.values())) == len(out), "a sha256 prefix collided"
    return out
