"""`zpfarm series lint`: is a series directory ready to post? One JUnit case per check.

The cover letter must carry `base-commit:` (which tree the series applies to; 0-day and
zpfarm test on it) and `change-id:` (b4's name for the series across its versions), and
every patch must pass checkpatch as `b4 prep --check` runs it: an ERROR fails the patch,
warnings are listed on a passing case.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from farm.host.cache import Cache
from farm.kernel import checkpatch, git, series
from farm.model.results import Status, Suite, TestResult

COVER = "0000-*.patch"
_FIELDS = {
    "base-commit": "git format-patch --base=<commit> (or b4 prep) writes it: the commit the series applies to",
    "change-id": "b4 prep writes it: the same id in every version of the series",
}


def lint(directory: Path, trees: Sequence[Path]) -> Suite:
    """The lint suite of a series directory; checkpatch runs from the first of trees that has it."""
    started, clock = datetime.now(UTC), time.monotonic()
    loaded = series.load(directory)
    covers = sorted(directory.glob(COVER))
    cases = [_cover(covers)]
    text = covers[0].read_text(encoding="utf-8", errors="replace") if covers else ""
    for field, how in _FIELDS.items():
        present = re.search(rf"^{field}: *\S+ *$", text, re.MULTILINE)
        cases.append(
            TestResult(field, Status.PASS) if present else TestResult(field, Status.FAIL, f"no {field}: ({how})")
        )
    tree = checkpatch.find_tree(list(trees))
    for patch in loaded.patches:
        cases.append(_checkpatch(patch, tree))
    properties = {"series": str(directory), "checkpatch_tree": str(tree) if tree else ""}
    return Suite(f"lint/{directory.name}", tuple(cases), properties, "", started, time.monotonic() - clock)


def default_trees(cache: Cache, given: Path | None, directory: Path | None = None) -> list[Path]:
    """Where checkpatch.pl is looked for: --kernel-tree, the farm's imported sources (the one holding
    the series' base-commit first), /usr/src."""
    imported = sorted((cache.root / "source").glob("*"), reverse=True)
    covers = sorted(directory.glob(COVER)) if directory else []
    found = (
        re.search(r"^base-commit: *([0-9a-f]{7,64}) *$", covers[0].read_text(errors="replace"), re.M)
        if covers
        else None
    )
    if found:
        imported.sort(key=lambda repo: git.resolve(repo, found.group(1)) is None)  # stable: the base's tree first
    return [*([given] if given else []), *imported, *sorted(Path("/usr/src").glob("linux-*"), reverse=True)]


def _cover(covers: list[Path]) -> TestResult:
    if covers:
        return TestResult("cover-letter", Status.PASS, covers[0].name)
    return TestResult("cover-letter", Status.FAIL, "no 0000-cover-letter.patch: replies and b4 thread on it")


def _checkpatch(patch: Path, tree: Path | None) -> TestResult:
    name = f"checkpatch {patch.name}"
    if tree is None:
        return TestResult(name, Status.SKIP, "no kernel tree with scripts/checkpatch.pl: give --kernel-tree DIR")
    clock = time.monotonic()
    found = checkpatch.check(patch, tree)
    elapsed = time.monotonic() - clock
    output = "\n".join(f.text for f in found)
    errors = [f for f in found if f.level == "ERROR"]
    if errors:
        return TestResult(name, Status.FAIL, f"{len(errors)} error(s): {errors[0].text}", output, elapsed=elapsed)
    note = f"{len(found)} warning(s): {found[0].text}" if found else "clean"
    return TestResult(name, Status.PASS, note, output, elapsed=elapsed)
