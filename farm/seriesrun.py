"""`zpfarm run --series SOURCE`: the matrix's series replaced by one imported on the fly, on its own base.

The base: the series' `base-commit:` when the kernel tree has it (a tarball's tree has one
commit, its release); without one, the matrix base, with a warning. A base-commit the tree
lacks, or a `prerequisite-patch-id` none of the base's recent commits has, is bad input that
says what to give instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from farm import seriesimport
from farm.host.cache import Cache
from farm.kernel import git, patchid, source
from farm.model.errors import UserError
from farm.model.matrix import Cell, Matrix, Source
from farm.model.seriesinfo import SeriesInfo

NO_BASE = (
    "the series names no base-commit: testing it on the matrix base {base}; "
    "post it with `git format-patch --base=<commit>` (or b4 prep) so the tree it was made on is known"
)


def with_series(
    m: Matrix, cells: tuple[Cell, ...], text: str, cache: Cache, warn: Callable[[str], None]
) -> tuple[Matrix, tuple[Cell, ...], seriesimport.Imported]:
    """m (and the selected cells) with every source's series the imported SOURCE, on the series' own base."""
    imported = seriesimport.into_cache(text, cache, lambda _: None)
    new = {src: _on_base(replace(src, series=imported.directory), imported.info, cache, warn) for src in m.sources}
    moved = replace(m, sources=tuple(new.values()), cells=tuple(replace(c, source=new[c.source]) for c in m.cells))
    return moved, tuple(replace(c, source=new[c.source]) for c in cells), imported


def _on_base(src: Source, info: SeriesInfo, cache: Cache, warn: Callable[[str], None]) -> Source:
    repo = source.ensure_repo(src, cache)
    if info.base_commit is None:
        warn(NO_BASE.format(base=src.base))
        rebased = src
    else:
        have = git.resolve(repo, info.base_commit)
        where = f"the tree {src.tree}" if src.tree else f"the farm's import of {src.base}"
        if have is None or (src.tree is None and have != source.base_commit(repo, src)):
            raise UserError(
                f"the series' base-commit {info.base_commit[:12]} is not in {where}: give a tree that has it "
                f"with --kernel-tree DIR --base {info.base_commit[:12]}"
            )
        # A tree's base moves to the base-commit (the matrix's ref stays when it names that commit).
        moved = src.tree is not None and git.resolve(repo, src.base) != have
        rebased = replace(src, base=have) if moved else src
    if lacking := patchid.missing(repo, rebased.base, info.prerequisite_patch_ids):
        raise UserError(
            f"the series needs prerequisite patches its base {rebased.base} does not have (patch-ids "
            f"{', '.join(p[:12] for p in lacking)}): apply them in your tree and give --kernel-tree DIR --base REF"
        )
    return rebased


def keep_info(imported: seriesimport.Imported, results: Path) -> Path:
    """series.json beside the run's results, for the commands that report back to the thread."""
    target = results / seriesimport.INFO
    shutil.copyfile(imported.directory / seriesimport.INFO, target)
    return target
