"""One config of the sweep in its own O= directory: prepared once, then objects compiled in it.

prepare() runs the config target (allnoconfig, defconfig, randconfig with
KCONFIG_SEED and KCONFIG_ALLCONFIG...) and `make prepare` at the base, and
stamps the directory: while the base, the toolchain, the config and its
fragment stay the same it is kept, so a warm sweep only compiles objects.
compile() builds single objects (`make mm/memory.o`) with W=1 through
ccache; each object is removed first so its warnings are printed every time
(ccache replays them), and make -k goes on past a failing object.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from farm.host import proc
from farm.kernel import diag, kconfig
from farm.model.sweep import Config, Toolchain

Progress = Callable[[str], None]
PREPARE_TIMEOUT_S = 3600
COMPILE_TIMEOUT_S = 3600
# Config targets that read KCONFIG_ALLCONFIG; the others get the fragment merged afterwards.
_ALLCONFIG_TARGETS = ("allnoconfig", "allyesconfig", "allmodconfig", "randconfig")
_STAMP = ".zpfarm-sweep"
# obj-y += a.o b.o   obj-$(CONFIG_KSM) += ksm.o   (cond: "y", "m" or the option's name)
_OBJ_LINE = re.compile(r"^[ \t]*(?:obj|lib)-(?:\$\(CONFIG_)?(?P<cond>\w+?)\)?[ \t]*[:+]?=(?P<objs>.*)$", re.M)


@dataclass(frozen=True)
class Make:
    """How the sweep runs make for one toolchain: niced, -jN, through ccache."""

    toolchain: Toolchain
    env: dict[str, str]  # ccache's settings
    jobs: int = 2
    nice: int = 10
    version: str = ""  # the compiler's --version line: a new compiler prepares every config again

    def argv(self, build_dir: Path, *targets: str, ccache: bool = True) -> list[str]:
        cc = f"ccache {self.toolchain.cc}" if ccache else self.toolchain.cc
        tc = [f"{k}={v}" for k, v in self.toolchain.make_vars().items()]
        return ["nice", "-n", str(self.nice), "make", f"-j{self.jobs}", f"O={build_dir}", *tc, f"CC={cc}", *targets]

    def reproducer(self, tree: Path, build_dir: Path, *targets: str) -> str:
        """The command line that does it again by hand (no nice, no ccache)."""
        return shlex.join(["make", "-C", str(tree), *self.argv(build_dir, *targets, ccache=False)[5:]])


@dataclass(frozen=True)
class Prepared:
    ok: bool
    build_dir: Path
    elapsed: float
    reused: bool
    recipe: str  # how the config is made, by hand: the seed and the fragment are in it
    message: str  # why it failed, or "prepared" / "kept"
    stamp: str = ""  # what the directory was prepared from (toolchain, compiler, config, fragment, base)


@dataclass(frozen=True)
class Compiled:
    objects: tuple[str, ...]
    failed: tuple[str, ...]  # objects that did not compile
    absent: tuple[str, ...]  # objects this config does not build
    diagnostics: tuple[diag.Diagnostic, ...]
    elapsed: float
    log: Path
    timed_out: bool = False


def prepare(
    make: Make, config: Config, tree: Path, base: str, fragment: Sequence[str], build_dir: Path, log: Path
) -> Prepared:
    """The config made at the base and `make prepare` run in build_dir, or kept from before."""
    frag_file = build_dir.parent / f"{config.name}.fragment"
    inputs = [make.toolchain.name, make.version, config.name, base, *fragment]
    stamp = hashlib.sha256("\n".join(inputs).encode()).hexdigest()
    env, steps = _config_steps(make, config, build_dir, frag_file if fragment else None)
    shown = [
        make.reproducer(tree, build_dir, a[-1])
        if a[0] == "nice"
        else shlex.join(["cd", str(tree)]) + " && " + shlex.join(a)
        for a in steps
    ]
    recipe = " && ".join([" ".join([*(f"{k}={v}" for k, v in env.items()), shown[0]]), *shown[1:]])
    if (build_dir / _STAMP).is_file() and (build_dir / _STAMP).read_text() == stamp:
        return Prepared(True, build_dir, 0.0, True, recipe, "kept", stamp)
    if build_dir.exists():
        shutil.rmtree(build_dir)
    build_dir.mkdir(parents=True)
    frag_file.write_text("".join(f"{line}\n" for line in fragment))
    elapsed = 0.0
    for n, argv in enumerate([*steps, make.argv(build_dir, "W=1", "prepare")]):
        done = proc.run(argv, cwd=tree, env={**make.env, **env}, log=log.with_name(f"{log.stem}.{n}{log.suffix}"))
        elapsed += done.elapsed
        if not done.ok:
            return Prepared(False, build_dir, elapsed, False, recipe, f"{argv[-1]} failed: {_why(done)}", stamp)
    (build_dir / _STAMP).write_text(stamp)
    return Prepared(True, build_dir, elapsed, False, recipe, "prepared", stamp)


def _why(done: proc.Completed) -> str:
    """What kbuild said went wrong: its '***' box (a compiler too old...), else the first error."""
    box = [line.strip("* \t") for line in done.output.splitlines() if line.startswith("***")]
    if text := " ".join(b for b in box if b):
        return text
    errors = [line.strip() for line in done.output.splitlines() if "error" in line.lower()]
    return errors[0] if errors else done.tail(2)


def in_config(tree: Path, values: Mapping[str, str], obj: str) -> bool:
    """Whether the config builds obj, from its directory's Makefile (obj-$(CONFIG_X) += name.o).

    An object the Makefile does not name directly (part of a composite object) counts as built.
    """
    path = PurePosixPath(obj)
    makefile = next((f for f in (tree / path.parent / "Makefile", tree / path.parent / "Kbuild") if f.is_file()), None)
    if makefile is None:
        return True
    text = makefile.read_text(encoding="utf-8", errors="replace").replace("\\\n", " ")
    conditions = [m["cond"] for m in _OBJ_LINE.finditer(text) if path.name in m["objs"].split()]
    return not conditions or any(c in ("y", "m") or values.get(c, "n") in ("y", "m") for c in conditions)


def _config_steps(
    make: Make, config: Config, build_dir: Path, fragment: Path | None
) -> tuple[dict[str, str], list[list[str]]]:
    """The environment and the commands that make the config (before `make prepare`)."""
    env = {"KCONFIG_SEED": str(config.seed)} if config.seed is not None else {}
    target = make.toolchain.target.defconfig if config.target == "defconfig" else config.target
    steps = [make.argv(build_dir, target)]
    if fragment is not None and target in _ALLCONFIG_TARGETS:
        env["KCONFIG_ALLCONFIG"] = str(fragment)
    elif fragment is not None:
        merge = ["scripts/kconfig/merge_config.sh", "-m", "-O", str(build_dir), str(build_dir / ".config")]
        steps += [[*merge, str(fragment)], make.argv(build_dir, "olddefconfig")]
    return env, steps


def compile_objects(make: Make, tree: Path, build_dir: Path, objects: Sequence[str], log: Path) -> Compiled:
    """Compile objects with W=1 in a prepared build_dir (the tree checked out as wanted).

    kbuild compiles a single object even when the config leaves it out (mm/ksm.o without
    CONFIG_KSM), which fails for reasons of the config alone: those are not compiled.
    """
    values = kconfig.parse((build_dir / ".config").read_text(encoding="utf-8", errors="replace"))
    wanted = [o for o in objects if in_config(tree, values, o)]
    for obj in wanted:
        (build_dir / obj).unlink(missing_ok=True)
    if wanted:
        argv = make.argv(build_dir, "-k", "W=1", *wanted)
        done = proc.run(argv, cwd=tree, env=make.env, log=log, timeout=COMPILE_TIMEOUT_S)
    else:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"not built under this config: {' '.join(objects)}\n")
        done = proc.Completed((), 0, 0.0, False, "", log)
    absent = sorted({*diag.absent_objects(done.output), *(o for o in objects if o not in wanted)})
    failed = [o for o in diag.failed_objects(done.output) if o not in absent]
    if not done.ok and not failed:  # make failed elsewhere (prepare, a script): every object did
        failed = [o for o in wanted if o not in absent and not (build_dir / o).is_file()]
    return Compiled(
        tuple(objects),
        tuple(failed),
        tuple(absent),
        tuple(diag.parse(done.output, build_dir, tree)),
        done.elapsed,
        log,
        done.timed_out,
    )
