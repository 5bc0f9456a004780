"""Where the farm keeps what survives between runs: sources, trees, builds.

Layout under the cache root ($ZPFARM_CACHE, else $XDG_CACHE_HOME/zpfarm,
else ~/.cache/zpfarm):
    source/<name>/            git repo made from a kernel tarball
    worktrees/<repo>/base     the farm's checkout every cell builds from, at its
                              commit in turn (never the user's; named for the
                              base it starts at): one source path, so ccache
                              serves the series builds from the base builds
    build/<cell>/             O= build directory per kernel x arch x kconfig
    series/<patchset hash>-<series.json's sha256>/
                              a series `zpfarm run --series` imported (patches, series, series.json)
    bisect/worktrees/<repo>/base, bisect/build/<cell>/
                              the bisect's own checkout and builds, laid out as the runs'
                              are: the same relative path from a build to its tree, so
                              ccache serves a bisect step from a run's build and back
    ccache/                   CCACHE_DIR
    testcases/<arch>/         compiled guest tests
    rootfs/<arch>/            guest root filesystems for foreign arches
    host.json                 what was probed about this host (KVM)
    build.lock                one kernel build at a time on this machine
    trees.lock                one run at a time uses the worktrees
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path


def default_root() -> Path:
    if env := os.environ.get("ZPFARM_CACHE"):
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "zpfarm"


@dataclass(frozen=True)
class Cache:
    root: Path

    def source(self, name: str) -> Path:
        return self.root / "source" / name

    def worktree(self, repo: str, name: str = "base") -> Path:
        return self.root / "worktrees" / repo / name

    def build(self, cell_name: str) -> Path:
        return self.root / "build" / cell_name

    @property
    def bisect(self) -> Cache:
        """The bisect's own worktrees and build directories (ccache and locks stay the root's)."""
        return Cache(self.root / "bisect")

    @property
    def ccache(self) -> Path:
        return self.root / "ccache"

    def testcases(self, arch: str) -> Path:
        return self.root / "testcases" / arch

    def runner(self, arch: str) -> Path:
        return self.root / "runner" / arch

    def rootfs(self, arch: str) -> Path:
        return self.root / "rootfs" / arch

    @property
    def host_facts(self) -> Path:
        return self.root / "host.json"

    @contextmanager
    def lock(self, name: str, waiting: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold <root>/<name>.lock exclusively (flock: compatible with flock(1)).

        waiting() is called once if somebody else holds it.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / f"{name}.lock").open("a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if waiting:
                    waiting()
                fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def build_lock(self) -> AbstractContextManager[None]:
        """The machine-wide kernel build lock (2 cores: one build at a time)."""
        return self.lock("build")

    def trees_lock(self, waiting: Callable[[], None] | None = None) -> AbstractContextManager[None]:
        """One run at a time checks out and builds from the farm's worktrees."""
        return self.lock("trees", waiting)
