"""Configure and build one cell's kernel out of tree (O=), with ccache.

Nothing is rebuilt when the tree's commit and the fragments did not change;
otherwise make's own dependency tracking keeps rebuilds incremental.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from farm.host import ccache, proc
from farm.host.cache import Cache
from farm.kernel import git, kconfig, reproducible, series
from farm.model.errors import InfraError
from farm.model.matrix import Cell

Progress = Callable[[str], None]
# A cold build of the farm's configs takes minutes; virtme-ng's default ~18 min on 2 cores.
BUILD_TIMEOUT_S = 3 * 3600
_WARNING = re.compile(r"\bwarning:", re.I)


@dataclass(frozen=True)
class Built:
    ok: bool
    image: Path | None
    release: str  # `make kernelrelease`, "" when it failed
    warnings: int
    elapsed: float
    log: Path
    message: str  # why it failed, or what happened ("up to date", "built")


def fragments(cell: Cell) -> tuple[Path, ...]:
    return (cell.arch.base_config, *cell.kconfig.fragments)


def config_digest(cell: Cell) -> str:
    h = hashlib.sha256(cell.arch.name.encode())
    for frag in fragments(cell):
        h.update(frag.read_bytes())
    for var in profile_vars(cell):
        h.update(f"\n{var}".encode())
    return h.hexdigest()


def profile_vars(cell: Cell) -> list[str]:
    """A coverage cell's make variables: gcov profiles each C file of the kernel the series changes.

    kbuild reads GCOV_PROFILE_<stem>.o per object and before the directory's GCOV_PROFILE. On
    make's command line it reaches every directory without a change to the tree, so its value
    names the file's directories: elsewhere an object of the same stem (arch/x86/boot/memory.o,
    which must not be profiled) keeps its directory's own setting.
    """
    if not cell.kconfig.coverage:
        return []
    touched = series.touched_files(series.load(cell.source.series))
    dirs: dict[str, set[str]] = {}
    for f in touched:
        if f.endswith(".c") and not f.startswith("tools/"):
            dirs.setdefault(Path(f).stem, set()).add(str(Path(f).parent))
    return [f"GCOV_PROFILE_{stem}.o=$(if $(filter {' '.join(sorted(d))},$(obj)),y)" for stem, d in sorted(dirs.items())]


def make_argv(cell: Cell, build_dir: Path) -> list[str]:
    """make for this cell, every job the host has, through ccache."""
    cc = cell.arch.cc
    return [
        "make",
        f"O={build_dir}",
        f"-j{os.cpu_count() or 1}",
        f"CC=ccache {cc}",
        "HOSTCC=ccache gcc",
        *profile_vars(cell),
    ]


def build(
    cell: Cell,
    tree: Path,
    commit: str,
    cache: Cache,
    log: Path,
    progress: Progress,
    *,
    build_dir: Path | None = None,
    remote: str | None = None,
) -> Built:
    """Check out commit in tree, configure (if the fragments changed) and build cell's kernel.

    build_dir defaults to the cell's own directory in the cache; remote is ccache's remote
    storage (the matrix's [cache] remote, else $CCACHE_REMOTE_STORAGE).
    """
    build_dir = build_dir or cache.build(cell.name)
    build_dir.mkdir(parents=True, exist_ok=True)
    image = build_dir / cell.arch.image
    digest = config_digest(cell)
    stamp = build_dir / ".zpfarm-built"
    wanted = f"{commit} {digest}\n"
    if image.is_file() and stamp.is_file() and stamp.read_text() == wanted:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"up to date: {commit} with config {digest[:12]}\n")
        return Built(True, image, _release(cell, tree, build_dir, cache), 0, 0.0, log, "up to date")

    # BASEDIR: absolute paths under the cache become relative, so a moved cache still hits.
    # The same inputs give the same kernel, on any machine: ccache hits across paths (BASEDIR) and
    # through the remote storage, and no build date, user or host in the image.
    env = {
        **cell.arch.cross_env,
        **ccache.env(cache.ccache, cache.root, ccache.remote_url(remote)),
        **reproducible.reproducible_env(reproducible.commit_epoch(tree, commit)),
    }
    config_stamp = build_dir / ".zpfarm-config"
    progress("waiting for the build lock (one kernel build at a time on this host)")
    with cache.build_lock():
        git.checkout(tree, commit)
        if not (build_dir / ".config").is_file() or not config_stamp.is_file() or config_stamp.read_text() != digest:
            progress("configure")
            configure(cell, tree, build_dir, env, log.with_name("config.log"))
            config_stamp.write_text(digest)
        progress("build")
        stamp.unlink(missing_ok=True)
        done = proc.run(
            [*make_argv(cell, build_dir), cell.arch.make_target],
            cwd=tree,
            env=env,
            log=log,
            on_line=progress,
            timeout=BUILD_TIMEOUT_S,
        )
    warnings = len(warning_lines(log))
    if not done.ok or not image.is_file():
        return Built(False, None, "", warnings, done.elapsed, log, f"build failed: {_first_error(done)}")
    stamp.write_text(wanted)
    return Built(True, image, _release(cell, tree, build_dir, cache), warnings, done.elapsed, log, "built")


def configure(cell: Cell, tree: Path, build_dir: Path, env: dict[str, str], log: Path) -> None:
    """merge_config.sh -n + olddefconfig, then check nothing requested was dropped."""
    frags = [str(f) for f in fragments(cell)]
    merged = proc.run(
        ["scripts/kconfig/merge_config.sh", "-n", "-O", str(build_dir), *frags], cwd=tree, env=env, log=log
    )
    if not merged.ok:
        raise InfraError(f"merge_config.sh failed for {cell.name}: {merged.tail(1)} (see {log})")
    old = proc.run(["make", f"O={build_dir}", "olddefconfig"], cwd=tree, env=env, log=log.with_name("olddefconfig.log"))
    if not old.ok:
        raise InfraError(f"make olddefconfig failed for {cell.name}: {old.tail(1)} (see {old.log})")
    kconfig.check(fragments(cell), build_dir / ".config")


def _release(cell: Cell, tree: Path, build_dir: Path, cache: Cache) -> str:
    done = proc.run(["make", "-s", f"O={build_dir}", "kernelrelease"], cwd=tree, env=cell.arch.cross_env)
    return done.output.strip().splitlines()[-1] if done.ok and done.output.strip() else ""


def warning_lines(log: Path) -> list[str]:
    """The compiler's warning lines in a build log."""
    text = log.read_text(errors="replace") if log.is_file() else ""
    return [line.strip() for line in text.splitlines() if _WARNING.search(line)]


def _first_error(done: proc.Completed) -> str:
    for line in done.output.splitlines():
        if "error:" in line or "Error " in line:
            return line.strip()
    return "timed out" if done.timed_out else done.tail(1)
