"""What a patch touches: its files, the objects to compile for them, the options they test.

Objects: a changed .c or .S file is its .o. A changed header is compiled
through the objects that include it, found by a grep of #include lines (not
the compiler's dependency files, which only exist once everything is built):
the series' own objects that include it, and at most `users` more in the
directories the series changes (the header's own directory included), the
first by name. Nothing is compiled for tools/, scripts/, samples/ or
Documentation/: those are not kernel objects.

Options: the CONFIG_ symbols the touched files test with #ifdef, #ifndef,
defined(), IS_ENABLED(), IS_BUILTIN(), IS_MODULE() or IS_REACHABLE(): what a
biased randconfig toggles.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from farm.kernel import git
from farm.model.errors import InfraError

_NOT_KERNEL = ("tools/", "scripts/", "samples/", "Documentation/", "usr/")
_TESTED = re.compile(
    r"(?:#\s*ifn?def\s+|\bdefined\s*\(?\s*|\bIS_(?:ENABLED|BUILTIN|MODULE|REACHABLE)\s*\(\s*)CONFIG_(\w+)"
)
_SELECTED = ("ARCH_", "HAVE_")
_INCLUDE_ROOT = re.compile(r"^(?:arch/[^/]+/)?include/(?:uapi/)?")


@dataclass(frozen=True)
class Patch:
    """One patch of the series as the sweep sees it."""

    number: int  # 1-based position in the series
    commit: str
    subject: str
    files: tuple[str, ...]  # every path it changes
    objects: tuple[str, ...]  # what to compile for it (relative to the tree: mm/memory.o)

    @property
    def name(self) -> str:
        return f"{self.number:04d} {self.subject}"


def changed_files(tree: Path, commit: str) -> list[str]:
    out = git.out(tree, ["diff-tree", "--no-commit-id", "--name-only", "-r", "--no-renames", commit])
    return [line for line in out.splitlines() if line]


def series(tree: Path, base: str, tip: str, users: int) -> list[Patch]:
    """The patches base..tip, each with the objects that compile what it changes."""
    commits = git.out(tree, ["rev-list", "--reverse", f"{base}..{tip}"]).split()
    files = {c: changed_files(tree, c) for c in commits}
    dirs = sorted({str(PurePosixPath(f).parent) for fs in files.values() for f in fs if _compiled(f)})
    patches = []
    for n, commit in enumerate(commits, 1):
        subject = git.out(tree, ["log", "-1", "--format=%s", commit])
        objs = objects(tree, commit, files[commit], dirs, users)
        patches.append(Patch(n, commit, subject, tuple(files[commit]), tuple(objs)))
    return patches


def objects(tree: Path, commit: str, files: Sequence[str], dirs: Sequence[str], users: int) -> list[str]:
    """The objects to compile for files changed at commit (see the module's docstring)."""
    own = [_object(f) for f in files if _compiled(f) and f.endswith((".c", ".S"))]
    found = list(dict.fromkeys(own))
    for header in (f for f in files if _compiled(f) and f.endswith(".h")):
        where = sorted({*dirs, str(PurePosixPath(header).parent)})
        includers = [_object(c) for c in includers_of(tree, commit, header, where)]
        found += [o for o in includers if o in own and o not in found]
        extra = [o for o in includers if o not in found]
        found += extra[:users]
    return found


def includers_of(tree: Path, commit: str, header: str, dirs: Sequence[str]) -> list[str]:
    """The .c files directly in dirs that #include header (by its name, "..." or <...>), at commit."""
    name = PurePosixPath(header).name
    spelled = _INCLUDE_ROOT.sub("", header) if _INCLUDE_ROOT.match(header) else name
    pattern = rf'^\s*#\s*include\s*[<"]({re.escape(spelled)}|{re.escape(name)})[>"]'
    specs = [f"{d}/*.c" for d in dirs]
    done = git.run(tree, ["grep", "-l", "-E", pattern, commit, "--", *specs])
    if done.returncode not in (0, 1):  # 1: no match
        raise InfraError(f"git grep in {tree}: {done.tail(2)}")
    # git grep names a file COMMIT:path; only files directly in one of dirs count.
    paths = [line.split(":", 1)[1] for line in done.output.splitlines() if ":" in line]
    return sorted(p for p in paths if str(PurePosixPath(p).parent) in dirs)


def tested_options(texts: Iterable[str]) -> list[str]:
    """The CONFIG_ options (without the prefix) these sources test, sorted."""
    return sorted({m for text in texts for m in _TESTED.findall(text)})


def file_texts(tree: Path, commit: str, files: Iterable[str]) -> list[str]:
    """The sources among files as they are at commit (deleted ones are left out)."""
    texts = []
    for f in files:
        if _compiled(f) and f.endswith((".c", ".h", ".S")):
            done = git.run(tree, ["show", f"{commit}:{f}"])
            if done.ok:
                texts.append(done.output)
    return texts


def bias(options: Sequence[str], seed: int) -> list[str]:
    """Config lines that set each option on or off at random, the same for the same seed.

    Options an arch selects and a user cannot set (ARCH_*, HAVE_*, 64BIT) are left alone.
    """
    rng = random.Random(seed)
    settable = [o for o in options if not o.startswith(_SELECTED) and o != "64BIT"]
    return [f"CONFIG_{o}=y" if rng.random() < 0.5 else f"# CONFIG_{o} is not set" for o in settable]


def for_arch(objs: Iterable[str], arch_dir: str) -> list[str]:
    """The objects an arch compiles: the common ones and those under its own arch/ directory."""
    return [o for o in objs if not o.startswith("arch/") or o.startswith(f"arch/{arch_dir}/")]


def _compiled(path: str) -> bool:
    return not path.startswith(_NOT_KERNEL) and path.endswith((".c", ".S", ".h"))


def _object(source: str) -> str:
    return str(PurePosixPath(source).with_suffix(".o"))
