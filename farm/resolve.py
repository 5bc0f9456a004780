"""The matrix as a job sees it: read, its source overridden from the command line, bases resolved.

A base that names a stable line (v7.3) becomes the point release its tarball
holds (v7.3.4) before any job plans, builds or keys anything, so every suite,
build key and artifact names the exact release it tested.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from farm.host.cache import Cache
from farm.kernel import source
from farm.model import matrix
from farm.model.errors import UserError
from farm.model.matrix import Matrix


def load(path: Path, cache: Cache, tree: Path | None = None, base: str | None = None) -> Matrix:
    """The matrix at path with --kernel-tree/--base applied and every tarball base resolved."""
    return source.resolve_matrix(with_tree(matrix.load(path), tree, base), cache)


def with_tree(m: Matrix, tree: Path | None, base: str | None) -> Matrix:
    """The matrix with its (one) kernel source overridden from the command line."""
    if tree is None:
        if base is None:
            return m
        if m.source.tarball is not None and not matrix.TARBALL_BASE.fullmatch(base):
            raise UserError(f"--base {base!r}: a tarball's base is a stable line (v7.3) or a point release (v7.3.4)")
        new = replace(m.source, base=base)
    elif base is None:
        raise UserError("--kernel-tree needs --base REF: the commit the series applies to")
    elif not (tree / ".git").exists():
        raise UserError(f"--kernel-tree {tree}: not a git checkout")
    else:
        new = replace(m.source, base=base, tree=tree.resolve(), tarball=None)
    return replace(m, sources=(new,), cells=tuple(replace(c, source=new) for c in m.cells))
