"""The pipeline's stages behind one small Protocol, so a run can be driven by fakes.

kunit.py takes its kernel tree as an argument (``main(argv, linux=None)``);
zpfarm's pipeline takes a Stages object. LocalStages is the real one: it
prepares the kernel trees, builds kernels and the selftests with this host's
toolchains, makes root filesystems and boots guests with virtme-ng. Tests pass
a fake and check the pipeline's decisions (what fails, what is reported,
what is written, what is stopped) in milliseconds.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from farm import coverage, plan
from farm.guest import runner, selftests, testcases
from farm.host import proc
from farm.kernel import build, git, source
from farm.model.arches import Arch
from farm.model.errors import ZpfarmError
from farm.model.matrix import Cell, Kernel, Runtime, Source
from farm.model.programs import GuestTest
from farm.model.results import Booted
from farm.options import Options, Progress
from farm.trees import Tree, prepare_trees
from farm.vm import accel, boot, rootfs


@dataclass(frozen=True)
class GuestPrograms:
    """What every guest of one arch gets: the runner and testcases/ (selftests come per kernel)."""

    runner: Path
    tests: tuple[GuestTest, ...]


@dataclass(frozen=True)
class GuestImage:
    """What one cell's guests boot: its kernel image, the arch's runner and root filesystem."""

    image: Path
    runner: Path
    rootfs: Path | None


@dataclass(frozen=True)
class Origin:
    """Which build a kernel is (the plan's build key) and, booted from an artifact, which file."""

    key: str = ""  # "" for a bisect step's checkout: no plan names it
    artifact: str = ""  # KEY.tar.zst
    artifact_sha256: str = ""


@dataclass(frozen=True)
class CellBuild:
    """A cell's build: the kernel and, when wanted, the selftests of its tree."""

    built: build.Built
    selftests: tuple[GuestTest, ...] = ()
    origin: Origin = Origin()  # which build it is, from which artifact


class Stages(Protocol):
    """The side effects of a run; every method may raise ZpfarmError (UserError: bad input)."""

    def prepare_trees(
        self, wanted: Collection[tuple[Source, Kernel]]
    ) -> Mapping[tuple[Source, Kernel], Tree | ZpfarmError]:
        """The tree of each kernel of each source; a series that does not apply fails only its kernel."""
        ...

    def guest_programs(self, arch: Arch) -> GuestPrograms: ...

    def build(self, cell: Cell, tree: Tree, progress: Progress) -> CellBuild:
        """Runs in the builder thread, one cell at a time."""
        ...

    def rootfs(self, arch: Arch) -> Path | None:
        """The guest's root filesystem: None for the host's own arch (vng shares /)."""
        ...

    def boot(self, cell: Cell, runtime: Runtime, guest: GuestImage, tests: Sequence[GuestTest], where: Path) -> Booted:
        """Boot once, run tests, and say how it went (a crash is data, not an exception)."""
        ...

    def stop(self) -> None:
        """Stop everything still running, in every thread (Ctrl-C, SIGTERM)."""
        ...

    def hold_trees(self, waiting: Callable[[], None]) -> AbstractContextManager[None]:
        """Exclusive use of the trees the stages check out and build from, for one run (waiting: if not free)."""
        ...


class LocalStages:
    """The real stages on this host."""

    def __init__(self, opts: Options, notice: Callable[[str], None], line: Callable[[str, str], None]) -> None:
        self.opts = opts
        self.notice = notice
        self.line = line
        proc.allow_new()

    def prepare_trees(
        self, wanted: Collection[tuple[Source, Kernel]]
    ) -> dict[tuple[Source, Kernel], Tree | ZpfarmError]:
        if self.opts.checkout is not None:
            tree = Tree(self.opts.checkout, git.out(self.opts.checkout, ["rev-parse", "HEAD"]), "")
            return dict.fromkeys(wanted, tree)
        return prepare_trees(self.opts.cache, wanted)

    def guest_programs(self, arch: Arch) -> GuestPrograms:
        opts = self.opts
        guest_runner = runner.build(arch, opts.cache.runner(arch.name), opts.out / f"runner-{arch.name}.log")
        if not opts.selection.wants_testcases():
            return GuestPrograms(guest_runner, ())
        built = opts.cache.testcases(arch.name)
        testcases.build(opts.matrix.testcases_dir, arch, built, opts.out / f"testcases-{arch.name}.log")
        timeout = opts.matrix.guest.test_timeout
        tests = testcases.guest_tests(opts.matrix.testcases_dir, built, timeout, opts.selection.testcases())
        return GuestPrograms(guest_runner, tuple(tests))

    def build(self, cell: Cell, tree: Tree, progress: Progress) -> CellBuild:
        opts = self.opts
        prefix = "bisect-" if opts.checkout else ""
        log = opts.out / cell.name / "build.log"
        build_dir = opts.cache.bisect.build(cell.name) if opts.checkout else None
        remote = opts.matrix.cache_remote
        built = build.build(cell, tree.path, tree.commit, opts.cache, log, progress, build_dir=build_dir, remote=remote)
        which = Origin() if opts.checkout else Origin(build_key(cell, tree))
        if not built.ok or not opts.wants_selftests():
            return CellBuild(built, origin=which)
        progress("build selftests")
        origin = f"{cell.source.name}-" if cell.source.name else ""
        out = opts.cache.root / "selftests" / f"{prefix}{origin}{cell.kernel}-{cell.arch.name}"
        with opts.cache.build_lock():
            git.checkout(tree.path, tree.commit)
            tests = selftests.build(tree.path, cell.arch, out, opts.out / cell.name / "selftests.log")
        return CellBuild(built, tuple(t for t in tests if opts.selection.wants(t.name)), which)

    def rootfs(self, arch: Arch) -> Path | None:
        if arch.native:
            return None
        return rootfs.ensure(arch, self.opts.cache, self.opts.out / f"rootfs-{arch.name}.log")

    def boot(self, cell: Cell, runtime: Runtime, guest: GuestImage, tests: Sequence[GuestTest], where: Path) -> Booted:
        opts = self.opts
        mode = accel.resolve(opts.accel, cell.arch, guest.image, opts.cache, self.notice)
        request = boot.Boot(
            guest.image,
            cell.arch.name,
            guest.runner,
            mode,
            opts.matrix.guest,
            runtime,
            guest.rootfs,
            cell.kconfig.cmdline,
        )
        on_line = functools.partial(self.line, cell.name)
        booted = boot.boot(request, tests, where / "share", where / "console.log", on_line)
        if not cell.kconfig.coverage or opts.checkout is not None:
            return booted
        build_dir = opts.cache.build(cell.name)
        tree = opts.cache.worktree(source.repo_name(cell.source))
        found = coverage.after_boot(cell, where / "share", build_dir, tree, where, opts.matrix.testcases_dir)
        return dataclasses.replace(booted, properties=tuple(found.items()))

    def stop(self) -> None:
        proc.stop_all()

    def hold_trees(self, waiting: Callable[[], None]) -> AbstractContextManager[None]:
        return self.opts.cache.trees_lock(waiting)


def build_key(cell: Cell, tree: Tree) -> str:
    """The plan's build key of what cell builds from tree (`zpfarm build --key` packs the same)."""
    return plan.build_key(cell, cell.source, plan.probe_toolchain(cell.arch), tree.series_hash or None)
