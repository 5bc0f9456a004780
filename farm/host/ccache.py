"""ccache for kernel builds, shared between machines through its remote storage.

Two machines share hits when the compiler command lines and inputs hash the
same: CCACHE_BASEDIR makes absolute paths under the farm's cache root
relative (the source worktree and the O= build directory both live there),
CCACHE_NOHASHDIR keeps the working directory out of the hash, and the
compiler is checked by content, not by its file's mtime. The remote storage
(redis:// or http://, ccache >= 4.7) comes from [cache] remote in the matrix
or CCACHE_REMOTE_STORAGE; the local CCACHE_DIR is a first level in front of it.
The reproducible-build variables (KBUILD_BUILD_TIMESTAMP...) are the build's
job: farm.kernel.reproducible.reproducible_env.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from farm.host import proc
from farm.model.errors import InfraError, UserError

REMOTE_ENV = "CCACHE_REMOTE_STORAGE"
SCHEMES = ("redis://", "redis+unix:", "http://", "file:")


@dataclass(frozen=True)
class Stats:
    """ccache's counters (ccache --print-stats) for the compilations it could cache."""

    direct_hits: int
    preprocessed_hits: int
    misses: int
    remote_hits: int  # hits served by the remote storage (a subset of the hits)
    remote_misses: int
    remote_errors: int  # remote storage errors and timeouts: the build went on without it

    @property
    def hits(self) -> int:
        return self.direct_hits + self.preprocessed_hits

    @property
    def calls(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float:
        return self.hits / self.calls if self.calls else 0.0


def remote_url(configured: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The remote storage URL: the configured one, else $CCACHE_REMOTE_STORAGE, else None."""
    url = configured or (os.environ if environ is None else environ).get(REMOTE_ENV) or None
    if url is not None and not url.split("|", 1)[0].startswith(SCHEMES):
        raise UserError(f"ccache remote storage {url!r}: expected a redis://, http:// or file: URL")
    return url


def env(cache_dir: Path, basedir: Path, remote: str | None = None) -> dict[str, str]:
    """The environment for a build through ccache (CC="ccache gcc") with cache_dir as the local level.

    basedir: the directory holding both the source tree and the O= directory
    (the farm's cache root). remote: from remote_url().
    """
    out = {
        "CCACHE_DIR": str(cache_dir),
        "CCACHE_BASEDIR": str(basedir),
        "CCACHE_NOHASHDIR": "true",
        "CCACHE_COMPILERCHECK": "content",
    }
    if remote:
        out[REMOTE_ENV] = remote
    return out


def stats(cache_env: Mapping[str, str]) -> Stats:
    """The counters of the ccache in cache_env (env()), since they were last zeroed."""
    done = proc.run(["ccache", "--print-stats"], env=cache_env, timeout=60)
    if not done.ok:
        raise InfraError(f"ccache --print-stats failed: {done.tail(1)} (apt-get install ccache)")
    return parse_stats(done.output)


def zero(cache_env: Mapping[str, str]) -> None:
    """Zero the counters, so stats() counts one build."""
    done = proc.run(["ccache", "--zero-stats"], env=cache_env, timeout=60)
    if not done.ok:
        raise InfraError(f"ccache --zero-stats failed: {done.tail(1)}")


def parse_stats(text: str) -> Stats:
    """Stats from ccache --print-stats output (tab-separated name and value per line)."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.partition("\t")
        if value.strip().isdigit():
            values[name.strip()] = int(value)
    if "cache_miss" not in values:
        raise InfraError(f"ccache --print-stats: no cache_miss counter in {text[:80]!r}")
    return Stats(
        direct_hits=values.get("direct_cache_hit", 0),
        preprocessed_hits=values.get("preprocessed_cache_hit", 0),
        misses=values["cache_miss"],
        remote_hits=values.get("remote_storage_hit", 0),
        remote_misses=values.get("remote_storage_miss", 0),
        remote_errors=values.get("remote_storage_error", 0) + values.get("remote_storage_timeout", 0),
    )
