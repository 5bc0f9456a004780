"""The matrix as a job sees it: read, its source overridden from the command line, bases resolved.

A base that names a stable line (v7.3) becomes the point release its tarball
holds (v7.3.4) before any job plans, builds or keys anything, so every suite,
build key and artifact names the exact release it tested.
"""

from __future__ import annotations

from pathlib import Path

from farm.host.cache import Cache
from farm.kernel import source
from farm.model import matrix
from farm.model.matrix import Matrix


def load(path: Path, cache: Cache, tree: Path | None = None, base: str | None = None) -> Matrix:
    """The matrix at path with --kernel-tree/--base applied and every tarball base resolved."""
    return source.resolve_matrix(matrix.with_tree(matrix.load(path), tree, base), cache)
