"""The commit each kernel of the matrix builds: the base imported, the series applied, in the farm's worktrees."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from farm.host.cache import Cache
from farm.kernel import series, source
from farm.model.errors import ZpfarmError
from farm.model.matrix import Kernel, Source


@dataclass(frozen=True)
class Tree:
    """The commit a kernel of the matrix builds, in the farm's worktree."""

    path: Path
    commit: str
    series_hash: str  # "" for base
    series_id: str = ""  # the series' identity (its patches' patch-ids): what history and build keys follow
    base_commit: str = ""  # the base the series applies to (the commit itself for base)
    series_name: str = ""  # "v3" of "[PATCH v3 01/13]"
    patch_ids: tuple[str, ...] = ()  # each patch's `git patch-id --stable`


def prepare_trees(
    cache: Cache, wanted: Collection[tuple[Source, Kernel]]
) -> dict[tuple[Source, Kernel], Tree | ZpfarmError]:
    """The commit each (source, kernel) builds, in one worktree per source (builds check out theirs).

    A series that does not apply fails only its kernel.
    """
    trees: dict[tuple[Source, Kernel], Tree | ZpfarmError] = {}
    for src in dict.fromkeys(s for s, _ in wanted):
        repo = source.ensure_repo(src, cache)
        base_commit = source.base_commit(repo, src)
        path = source.worktree(repo, cache.worktree(source.repo_name(src)), base_commit)
        for kernel in sorted({k for s, k in wanted if s == src}):
            if kernel is Kernel.BASE:
                trees[src, kernel] = Tree(path, base_commit, "", base_commit=base_commit)
                continue
            try:
                patches = series.load(src.series)
                tip = series.apply(patches, path, src.base)
                trees[src, kernel] = Tree(
                    path,
                    tip,
                    patches.hash,
                    patches.identity,
                    base_commit=base_commit,
                    series_name=series.name(patches),
                    patch_ids=series.patch_ids(patches),
                )
            except ZpfarmError as e:
                trees[src, kernel] = e
    return trees
