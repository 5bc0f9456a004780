"""`zpfarm sweep`: compile what each patch touches under many configs and toolchains.

In the manner of the kernel test robot, but cheaper because it knows the
series: no whole kernels, only the objects of each patch (touched.py), in an
O= directory per (toolchain, config) that is prepared once at the base and
kept (sweepconf.py). Per config, the union of the series' objects is first
compiled on the base: its warnings are the existing ones. Then each patch is
checked out and its objects compiled; the case fails when an object does not
compile (the compiler's line and the config's seed in the message) or when it
prints a warning the base did not. One JUnit suite per toolchain, one case
per (patch, config). A toolchain that is not installed is skipped, naming the
package to install. No final link is done.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import shutil
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from farm.cellrun import stage_error
from farm.host import ccache, proc
from farm.host.cache import Cache
from farm.kernel import git, sweepcache, sweepconf, touched
from farm.model.errors import InfraError, UserError, ZpfarmError
from farm.model.matrix import Kernel, Matrix, Source
from farm.model.results import Report, Status, Suite, TestResult
from farm.model.sweep import SUITE_RUNTIME, Config, Sweep, Toolchain, row_name
from farm.report import junit
from farm.report.progress import Reporter
from farm.sweep_verdict import Reproducer, verdict
from farm.trees import Tree, prepare_trees

TreeMaker = Callable[[Cache, Collection[tuple[Source, Kernel]]], Mapping[tuple[Source, Kernel], Tree | ZpfarmError]]
Which = Callable[[str], str | None]


@dataclass(frozen=True)
class Options:
    matrix: Matrix
    sweep: Sweep
    cache: Cache
    out: Path  # logs, fragments of this sweep
    junit: Path
    only: tuple[str, ...] = ()  # globs over TOOLCHAIN/CONFIG (x86_64-gcc/allnoconfig); empty: all
    jobs: int = 0  # make -j (0: the host's cores)
    nice: int = 10

    def wanted(self, toolchain: Toolchain, config: Config) -> bool:
        name = f"{toolchain.name}/{config.name}"
        return not self.only or any(fnmatch.fnmatchcase(name, g) for g in self.only)


@dataclass(frozen=True)
class _Work:
    """What every config of one source sweeps: the tree, the base commit, the patches."""

    tree: Path
    base: str
    patches: list[touched.Patch]
    options: list[str]  # the CONFIG_ options the series' files test (without the prefix)
    row: str  # the reporter's row and the suite's name: TOOLCHAIN[-SOURCE]


def options(
    matrix: Matrix, cache: Cache, out: Path, junit_path: Path, only: tuple[str, ...] = (), jobs: int = 0, nice: int = 10
) -> Options:
    """The sweep's Options, checked before anything runs: every --only glob picks something."""
    sweep = matrix.sweep
    if sweep is None:
        raise UserError(f"{matrix.path.name}: no [sweep] table")
    names = [f"{t.name}/{c.name}" for t in sweep.toolchains for c in sweep.configs]
    for glob in only:
        if not any(fnmatch.fnmatchcase(n, glob) for n in names):
            raise UserError(f"--only {glob!r} matches no TOOLCHAIN/CONFIG (e.g. {names[0]})")
    if jobs < 0 or not 0 <= nice <= 19:
        raise UserError("--jobs must be 0 (all cores) or more, --nice 0 to 19")
    return Options(matrix, sweep, cache, out, junit_path, only, jobs or os.cpu_count() or 1, nice)


def run(
    opts: Options,
    reporter: Reporter,
    report: Report,
    *,
    trees_of: TreeMaker = prepare_trees,
    which: Which = shutil.which,
) -> None:
    """One suite per (source, toolchain) in report, the JUnit rewritten after each."""
    with opts.cache.trees_lock(lambda: reporter.notice("another zpfarm run is using the kernel trees: waiting")):
        reporter.notice("preparing kernel trees")
        trees = trees_of(opts.cache, {(s, Kernel.SERIES) for s in opts.matrix.sources})
        for src in opts.matrix.sources:
            tree = trees[src, Kernel.SERIES]
            if not isinstance(tree, Tree):  # the series does not apply: every toolchain's suite says so
                for name in (row(tc.name, src) for tc in opts.sweep.toolchains if row(tc.name, src) in rows(opts)):
                    failed = (stage_error("series", tree),)
                    _done(
                        opts, reporter, report, Suite(f"{name}/{SUITE_RUNTIME}", failed, {}, "", datetime.now(UTC), 0.0)
                    )
                continue
            base = git.out(tree.path, ["rev-parse", f"{src.base}^{{commit}}"])
            patches = touched.series(tree.path, base, tree.commit, opts.sweep.header_users)
            options_tested = touched.tested_options(
                touched.file_texts(tree.path, tree.commit, sorted({f for p in patches for f in p.files}))
            )
            for tc in opts.sweep.toolchains:
                configs = [c for c in opts.sweep.configs if opts.wanted(tc, c)]
                if configs:
                    started = datetime.now(UTC)
                    work = _Work(tree.path, base, patches, options_tested, row(tc.name, src))
                    cases = _toolchain(opts, reporter, tc, configs, work, which)
                    props = {
                        "arch": tc.target.name,
                        "compiler": tc.compiler.value,
                        "base": src.base,
                        "series": tree.commit,
                    }
                    suite = Suite(f"{work.row}/{SUITE_RUNTIME}", tuple(cases), props, "", started, _since(started))
                    _done(opts, reporter, report, suite)


def _toolchain(
    opts: Options,
    reporter: Reporter,
    tc: Toolchain,
    configs: list[Config],
    work: _Work,
    which: Which,
) -> list[TestResult]:
    missing = [b for b in tc.binaries if which(b) is None]
    if missing:
        why = f"{missing[0]} is not installed: apt-get install {' '.join(tc.packages)}"
        reporter.notice(f"sweep {tc.name}: skipped, {why}")
        return [TestResult(f"{p.name} [{c.name}]", Status.SKIP, why) for c in configs for p in work.patches]
    env = ccache.env(opts.cache.ccache, opts.cache.root, ccache.remote_url(opts.matrix.cache_remote))
    make = sweepconf.Make(tc, env, opts.jobs, opts.nice, _version(tc.cc))
    cases = []
    for config in configs:
        cases += _config(opts, reporter, make, config, work)
    return cases


def _config(
    opts: Options,
    reporter: Reporter,
    make: sweepconf.Make,
    config: Config,
    work: _Work,
) -> list[TestResult]:
    tc, tree, base, label = make.toolchain, work.tree, work.base, work.row
    logs = opts.out / tc.name / config.name
    objects = list(dict.fromkeys(o for p in work.patches for o in touched.for_arch(p.objects, tc.target.arch_dir)))
    # The arch's own lines last: a biased option never undoes them.
    biased = touched.bias(work.options, config.seed) if config.seed is not None and opts.sweep.bias else []
    fragment = [*biased, *tc.target.forced]
    with opts.cache.build_lock():
        git.checkout(tree, base)
        reporter.phase(label, f"{config.name}: prepare")
        build_dir = opts.cache.root / "sweep" / tc.name / config.name
        prepared = sweepconf.prepare(make, config, tree, base, fragment, build_dir, logs / "prepare.log")
        if not prepared.ok:
            return [
                TestResult(
                    f"prepare [{config.name}]",
                    Status.INFRA,
                    f"the base does not prepare: {prepared.message}",
                    prepared.recipe,
                )
            ]
        reporter.phase(label, f"{config.name}: base", " ".join(objects))
        compile_at = functools.partial(_compile, make, tree, prepared)
        on_base = compile_at(base, objects, logs / "base.log")
        cases = []
        for patch in work.patches:
            mine = touched.for_arch(patch.objects, tc.target.arch_dir)
            name = f"{patch.name} [{config.name}]"
            if not mine:
                cases.append(TestResult(name, Status.SKIP, f"no object to compile for {tc.target.name}"))
                continue
            reporter.phase(label, f"{config.name}: patch {patch.number}", " ".join(mine))
            done = compile_at(patch.commit, mine, logs / f"{patch.number:04d}.log")
            cases.append(
                verdict(name, config, done, on_base, prepared.recipe, _reproducer(make, tree, build_dir, patch))
            )
    return cases


def _version(cc: str) -> str:
    """The compiler's first --version line ("" if it cannot say)."""
    try:
        done = proc.run([cc, "--version"], timeout=60)
    except InfraError:
        return ""
    return done.output.partition("\n")[0] if done.ok else ""


def _compile(
    make: sweepconf.Make, tree: Path, prepared: sweepconf.Prepared, commit: str, objects: Sequence[str], log: Path
) -> sweepconf.Compiled:
    """The objects compiled at commit, or the outcome of the same compile before (sweepcache)."""
    digest = sweepcache.key(prepared.stamp, git.out(tree, ["rev-parse", f"{commit}^{{tree}}"]), objects)
    done = sweepcache.load(prepared.build_dir, digest, log)
    if done is None:
        git.checkout(tree, commit)
        done = sweepconf.compile_objects(make, tree, prepared.build_dir, objects, log)
        sweepcache.store(prepared.build_dir, digest, done)
    return done


def _reproducer(make: sweepconf.Make, tree: Path, build_dir: Path, patch: touched.Patch) -> Reproducer:
    def lines(objects: Sequence[str]) -> list[str]:
        return [f"git -C {tree} checkout {patch.commit[:12]}", make.reproducer(tree, build_dir, "W=1", *objects)]

    return lines


def _done(opts: Options, reporter: Reporter, report: Report, suite: Suite) -> None:
    junit.append(report, suite, opts.junit)
    reporter.suite_done(suite)


def row(name: str, src: Source) -> str:
    """The reporter's row and the suite's first half: TOOLCHAIN, then -SOURCE when the matrix has several."""
    return row_name(name, src.name)


def _since(started: datetime) -> float:
    return (datetime.now(UTC) - started).total_seconds()


def rows(opts: Options) -> list[str]:
    """The reporter's rows: one per (source, toolchain) with a wanted config."""
    return [
        row(tc.name, src)
        for src in opts.matrix.sources
        for tc in opts.sweep.toolchains
        if any(opts.wanted(tc, c) for c in opts.sweep.configs)
    ]
