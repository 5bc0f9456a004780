"""matrix.toml -> typed, validated cells (pure apart from reading the file).

A cell is one kernel build: kernel (base or series) x arch x kconfig variant.
Each cell boots once per runtime variant (sysfs and command-line settings
applied at boot, no rebuild), except a cell of a build-only arch (s390):
it has no runtime and only `zpfarm build-each` takes it. Cells are the
product of [axes], plus [[include]] entries, minus [[exclude]] entries.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from farm.model import arches, guest_settings
from farm.model import sweep as sweep_mod
from farm.model.arches import Arch
from farm.model.errors import UserError
from farm.model.guest_settings import GuestSettings
from farm.model.table import Table, check_name


class Kernel(StrEnum):
    """Which kernel a cell builds: the base alone, or the base with the series applied."""

    BASE = "base"
    SERIES = "series"


KERNELS = tuple(k.value for k in Kernel)
# A name that becomes a path component (cells, results directories): no separators, no "..".
DEFAULT_TARBALL = Path("/usr/local/src/linux-source-7.3.tar.xz")  # install.sh fetches it
DEFAULT_BASE = "v7.3"  # the line: whichever 7.3.y the tarball holds
STABLE_LINE = re.compile(r"v(\d+)\.(\d+)")  # a base without a point release: the tarball's decides
TARBALL_BASE = re.compile(r"v\d{1,3}\.\d{1,3}(\.\d{1,4})?")


@dataclass(frozen=True)
class Source:
    """A base kernel and the series for it: Debian's tarball or a user's git tree.

    A matrix has one ([source] and the top-level series) or several ([sources.NAME], each
    with its own series: the upstream series and its backport), then a "source" axis.
    """

    base: str  # a git ref: the tag made from the tarball ("v6.12": whichever 6.12.y it holds), or a ref in the tree
    tarball: Path | None = None
    tree: Path | None = None
    series: Path = Path("kernel-series")  # directory of the series file and patches for this base
    name: str = ""  # [sources.NAME]; "" for a matrix's single [source]
    # Set by kernel.source.resolve: the stable line the matrix named ("v6.12") when base was made the
    # point release the tarball holds, and the tarball's sha256.
    line: str = ""
    tarball_sha256: str = ""


@dataclass(frozen=True)
class Kconfig:
    name: str
    fragments: tuple[Path, ...]
    cmdline: tuple[str, ...] = ()  # kernel parameters every boot of these builds gets
    coverage: bool = False  # gcov build: the series' files profiled, .gcda collected after each boot


@dataclass(frozen=True)
class Runtime:
    name: str
    sysfs: tuple[tuple[str, str], ...] = ()  # (path under /sys, value), applied in order
    cmdline: tuple[str, ...] = ()
    description: str = ""
    tests: tuple[str, ...] = ()  # test programs to run under this variant (empty: all)


@dataclass(frozen=True)
class Cell:
    kernel: Kernel
    arch: Arch
    kconfig: Kconfig
    runtimes: tuple[Runtime, ...]  # its boots; none for a build-only arch
    source: Source

    @property
    def name(self) -> str:
        """KERNEL-ARCH-KCONFIG, then -SOURCE when the matrix has several (the kernel first: compare pairs on it)."""
        suffix = f"-{self.source.name}" if self.source.name else ""
        return f"{self.kernel}-{self.arch.name}-{self.kconfig.name}{suffix}"


def check_bootable(cells: Iterable[Cell]) -> None:
    """UserError naming the first build-only cell: only build-each takes those, never a command that boots."""
    for cell in cells:
        if cell.arch.build_only:
            raise UserError(
                f"cell {cell.name} is build-only (the farm cannot boot {cell.arch.name}): "
                "`zpfarm build-each` builds it; leave it out with --cell"
            )


@dataclass(frozen=True)
class Matrix:
    path: Path
    sources: tuple[Source, ...]
    testcases_dir: Path
    guest: GuestSettings
    cells: tuple[Cell, ...]
    cache_remote: str | None = None  # [cache] remote: ccache's remote storage URL shared by build machines
    sweep: sweep_mod.Sweep | None = None  # [sweep]: what `zpfarm sweep` compiles (None: the default sweep)
    sweep_declared: bool = False  # the file has a [sweep] table: CI plans get its sweep rows

    @property
    def source(self) -> Source:
        """The one source of a single-source matrix (commands that need one: bisect, --kernel-tree)."""
        if len(self.sources) != 1:
            names = ", ".join(s.name for s in self.sources)
            raise UserError(f"{self.path.name} has several sources ({names}): this needs a matrix with one")
        return self.sources[0]

    def select(self, globs: Sequence[str]) -> tuple[Cell, ...]:
        """Cells (and runtimes) matching any glob over "cell" or "cell/runtime"."""
        if not globs:
            return self.cells
        picked: list[Cell] = []
        used: set[str] = set()
        for cell in self.cells:
            if cell.arch.build_only:  # no runtime: picked by its name alone
                hits = [g for g in globs if fnmatch.fnmatchcase(cell.name, g)]
                used.update(hits)
                if hits:
                    picked.append(cell)
                continue
            keep = []
            for rt in cell.runtimes:
                hits = [g for g in globs if _matches(g, cell.name, rt.name)]
                used.update(hits)
                if hits:
                    keep.append(rt)
            if keep:
                picked.append(replace(cell, runtimes=tuple(keep)))
        unused = [g for g in globs if g not in used]
        if unused:
            names = ", ".join(c.name for c in self.cells)
            raise UserError(f"--cell {unused[0]!r} matches no cell (cells: {names})")
        return tuple(picked)

    def select_one(self, glob: str) -> str:
        """CELL/RUNTIME for a glob that must pick one cell (its first runtime unless named)."""
        cells = self.select([glob])
        if len(cells) != 1:
            raise UserError(f"--cell {glob!r} matches {len(cells)} cells; this command needs exactly one")
        check_bootable(cells)
        return f"{cells[0].name}/{cells[0].runtimes[0].name}"


def _matches(glob: str, cell: str, runtime: str) -> bool:
    return fnmatch.fnmatchcase(cell, glob) or fnmatch.fnmatchcase(f"{cell}/{runtime}", glob)


def load(path: Path) -> Matrix:
    """Read and validate a matrix file; UserError names the offending key."""
    path = path.resolve()  # every path in it is relative to it; commands run elsewhere
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such matrix file") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read the matrix file: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path}: not valid TOML: {e}") from None
    return parse(data, path)


def parse(data: Mapping[str, Any], path: Path) -> Matrix:
    top = Table(data, path.name)
    top.check_keys(
        [
            "source",
            "sources",
            "series",
            "testcases",
            "guest",
            "cache",
            "axes",
            "kconfig",
            "runtime",
            "include",
            "exclude",
            "sweep",
        ]
    )
    here = path.parent
    kconfigs = _kconfigs(top.sub("kconfig"), here)
    runtimes = _runtimes(top.sub("runtime"), kconfigs)
    testcases_dir = here / top.get("testcases", str, "testcases")
    if not testcases_dir.is_dir():
        raise UserError(f"{path.name}: testcases: no such directory {testcases_dir}")
    sources = _sources(top, here)
    cells = _cells(top, kconfigs, runtimes, sources)
    for cell in cells:
        if cell.kernel is Kernel.SERIES and not cell.source.series.is_dir():
            raise UserError(f"{path.name}: series: no such directory {cell.source.series} (cell {cell.name})")
    return Matrix(
        path=path,
        sources=tuple(sources.values()),
        testcases_dir=testcases_dir,
        guest=guest_settings.parse(top.sub("guest")),
        cells=cells,
        cache_remote=_cache_remote(top.sub("cache")),
        sweep=sweep_mod.parse(top.sub("sweep")),
        sweep_declared="sweep" in top.data,
    )


def _sources(top: Table, here: Path) -> dict[str, Source]:
    """[sources.NAME] tables (each with its series), or the single [source] with the top-level series."""
    if "sources" in top.data:
        if "source" in top.data or "series" in top.data:
            raise UserError(f"{top.where}: give [sources.NAME] (each with its series) or [source] and series, not both")
        table = top.sub("sources")
        found = {name: _source(table.sub(check_name(table.where, "source", name)), here, name) for name in table.data}
        if not found:
            raise UserError(f"{table.where}: define at least one [sources.NAME]")
        return found
    series = here / top.get("series", str, "kernel-series")
    return {"": replace(_source(top.sub("source"), here, ""), series=series)}


def _cache_remote(t: Table) -> str | None:
    t.check_keys(["remote"])
    remote: str | None = t.get("remote", str)
    return remote


def _source(t: Table, here: Path, name: str) -> Source:
    t.check_keys(["tarball", "tree", "base", *(["series"] if name else [])])
    tree = t.get("tree", str)
    tarball = t.get("tarball", str)
    if tree and tarball:
        raise UserError(f"{t.where}: give either 'tree' or 'tarball', not both")
    series = here / t.get("series", str, required=True) if name else Path("kernel-series")
    if name and not series.is_dir():
        raise UserError(f"{t.where}: series: no such directory {series}")
    if tree:
        return Source(base=t.get("base", str, required=True), tree=(here / tree).resolve(), series=series, name=name)
    tar = (here / tarball) if tarball else DEFAULT_TARBALL
    base = t.get("base", str, required=bool(name)) or DEFAULT_BASE
    if not TARBALL_BASE.fullmatch(base):
        raise UserError(
            f"{t.where}: base {base!r}: a tarball's base is a stable line (v7.3) or a point release (v7.3.4)"
        )
    return Source(base=base, tarball=tar, series=series, name=name)


def _kconfigs(t: Table, here: Path) -> dict[str, Kconfig]:
    out = {}
    for name in t.data:
        sub = t.sub(check_name(t.where, "kconfig variant", name))
        sub.check_keys(["fragments", "cmdline", "coverage"])
        fragments = tuple(here / f for f in sub.strings("fragments", required=True))
        if not fragments:
            raise UserError(f"{sub.where}: fragments: list at least one config fragment")
        for frag in fragments:
            if not frag.is_file():
                raise UserError(f"{sub.where}: fragments: no such file {frag}")
        out[name] = Kconfig(name, fragments, tuple(sub.strings("cmdline")), sub.get("coverage", bool, False))
    if not out:
        raise UserError(f"{t.where}: define at least one [kconfig.NAME] with fragments")
    return out


def _runtimes(t: Table, kconfigs: Mapping[str, Kconfig]) -> dict[str, tuple[Runtime, tuple[str, ...]]]:
    """Runtime variants with the kconfig variants they apply to (empty: all)."""
    out = {}
    for name in t.data:
        sub = t.sub(check_name(t.where, "runtime", name))
        sub.check_keys(["sysfs", "cmdline", "kconfigs", "description", "tests"])
        sysfs = sub.sub("sysfs")
        for key, value in sysfs.data.items():
            if not isinstance(value, str):
                raise UserError(f"{sysfs.where}: {key!r} must be a string, not {value!r}")
            if key.startswith("/") or ".." in key.split("/") or not key.strip("/"):
                raise UserError(f"{sysfs.where}: {key!r} must be a path under /sys without '..'")
        only = tuple(sub.strings("kconfigs"))
        for k in only:
            if k not in kconfigs:
                raise UserError(f"{sub.where}: kconfigs: unknown kconfig variant {k!r}")
        rt = Runtime(
            name=name,
            sysfs=tuple(sysfs.data.items()),
            cmdline=tuple(sub.strings("cmdline")),
            description=sub.get("description", str, ""),
            tests=tuple(sub.strings("tests")),
        )
        out[name] = (rt, only)
    if not out:
        out["default"] = (Runtime("default"), ())
    return out


def _axis_values(t: Table, key: str, known: Iterable[str]) -> list[str]:
    values = t.strings(key, required=True)
    if not values:
        raise UserError(f"{t.where}: {key}: list at least one value")
    known = list(known)
    for v in values:
        if v not in known:
            raise UserError(f"{t.where}: {key}: unknown value {v!r} (known: {', '.join(known)})")
    return values


def _cells(
    top: Table,
    kconfigs: Mapping[str, Kconfig],
    runtimes: Mapping[str, tuple[Runtime, tuple[str, ...]]],
    sources: Mapping[str, Source],
) -> tuple[Cell, ...]:
    axes = top.sub("axes")
    axes.check_keys(["source", "kernel", "arch", "kconfig"] if len(sources) > 1 else ["kernel", "arch", "kconfig"])
    known = {
        "source": list(sources),
        "kernel": KERNELS,
        "arch": [*arches.ARCHES, *arches.ALIASES],
        "kconfig": list(kconfigs),
    }
    if len(sources) == 1:
        del known["source"]
    chosen = _axis_values(axes, "source", known["source"]) if "source" in axes.data else list(sources)
    # Base and series of each arch/kconfig pair side by side: a partial run still compares them.
    combos = [
        (source, kernel, arch, kconfig)
        for source, arch, kconfig, kernel in itertools.product(
            chosen,
            _axis_values(axes, "arch", known["arch"]),
            _axis_values(axes, "kconfig", known["kconfig"]),
            _axis_values(axes, "kernel", known["kernel"]),
        )
    ]
    excludes = []
    for t in top.tables("exclude"):
        t.check_keys(known)
        for key, value in t.data.items():
            if value not in known[key]:
                raise UserError(f"{t.where}: {key}: unknown value {value!r}")
        excludes.append(t.data)
    combos = [c for c in combos if not any(_excluded(c, e) for e in excludes)]
    for t in top.tables("include"):
        t.check_keys(known)
        values = {"source": chosen[0]}
        for key in known:
            value = t.get(key, str, values.get(key), required=key != "source")
            if value not in known[key]:
                raise UserError(f"{t.where}: {key}: unknown value {value!r}")
            values[key] = value
        combos.append((values["source"], values["kernel"], values["arch"], values["kconfig"]))

    cells: list[Cell] = []
    seen: set[str] = set()
    for source, kernel, arch_name, kconfig_name in combos:
        arch = arches.get(arch_name)
        rts = () if arch.build_only else tuple(rt for rt, only in runtimes.values() if not only or kconfig_name in only)
        cell = Cell(Kernel(kernel), arch, kconfigs[kconfig_name], rts, sources[source])
        if cell.name in seen:
            raise UserError(f"{top.where}: duplicate cell {cell.name!r}")
        seen.add(cell.name)
        if not rts and not arch.build_only:
            raise UserError(f"{top.where}: cell {cell.name!r} has no runtime variant")
        cells.append(cell)
    if not cells:
        raise UserError(f"{top.where}: the matrix has no cells")
    return tuple(cells)


def _excluded(combo: tuple[str, str, str, str], exclude: Mapping[str, str]) -> bool:
    named = dict(zip(("source", "kernel", "arch", "kconfig"), combo, strict=True))
    return all(named[k] == v for k, v in exclude.items())
