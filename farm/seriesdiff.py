"""`zpfarm compare --series V1 V2`: two versions of a series, patch by patch, with git range-diff.

The range-diff needs both versions applied: they are, in the farm's worktree of the matrix's
(or --kernel-tree's) base, as a run applies them. A base the farm has not imported yet is not
imported for this; the comparison then says how to get the range-diff.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from farm.host.cache import Cache
from farm.kernel import posting, rangediff, series, source
from farm.model import seriesinfo
from farm.model.errors import ZpfarmError
from farm.model.matrix import Matrix
from farm.model.results import Status
from farm.report import compare, versions

INFO = "series.json"


@dataclass(frozen=True)
class Compared:
    text: str
    regressed: list[str]  # subjects of patches whose build-each result went from good to bad


def compare_versions(first: Path, second: Path, each: Sequence[Path], m: Matrix | None, cache: Cache) -> Compared:
    """first and second (series directories) side by side; each: build-each JUnit of first, then second."""
    infos = (_info(first), _info(second))
    pairs = versions.pair(*infos)
    found = [versions.per_patch(compare.from_junit(p)) for p in each[:2]]
    results: tuple[dict[int, Status], dict[int, Status]] = (
        found[0] if found else {},
        found[1] if len(found) > 1 else {},
    )
    lines = _range_diff(first, second, m, cache)
    return Compared(versions.render(*infos, pairs, results, lines), versions.regressed(pairs, results))


def _info(directory: Path) -> seriesinfo.SeriesInfo:
    """The directory's series.json, or what its files say (a directory never imported)."""
    path = directory / INFO
    return seriesinfo.load(path) if path.is_file() else posting.describe(directory)


def _range_diff(first: Path, second: Path, m: Matrix | None, cache: Cache) -> list[str]:
    if m is None:
        return ["(none: give --kernel-tree DIR --base REF, or --matrix FILE whose base they apply to)"]
    src = m.source
    if src.tree is None and not cache.source(source.repo_name(src)).is_dir():
        return [f"(none: the farm has not imported {src.base} yet; `zpfarm run` does, or give --kernel-tree)"]
    try:
        with cache.trees_lock():
            repo = source.ensure_repo(src, cache)
            base = source.base_commit(repo, src)
            tree = source.worktree(repo, cache.worktree(source.repo_name(src)), base)
            tips = [series.apply(series.load(d), tree, src.base) for d in (first, second)]
            return rangediff.summary(tree, base, *tips)
    except ZpfarmError as e:
        return [f"(none: {e})"]
