"""The texts of a reproducer bundle: its one-cell matrix.toml, reproduce.sh, the KTAP and console excerpts.

Pure functions of values: farm.repro decides what goes in, this module
only writes it down. Nothing written here holds a path of the machine
that made the bundle: paths are relative to the bundle, and excerpts have
the producing directories replaced (scrub).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from farm.model.guest_settings import GuestSettings
from farm.model.matrix import Cell, Runtime

CONSOLE_TAIL = 200  # lines of console kept when no test markers frame the test
AFTER_END = 30  # console lines kept after a test's end marker (a late splat)
MAX_EXCERPT_LINES = 2000
_CHDIR = re.compile(r"virtme_chdir=\S*")


@dataclass(frozen=True)
class Layout:
    """Where the bundle's inputs are, relative to the bundle (POSIX paths)."""

    series: str | None  # the series directory (series cells)
    testcases: str
    fragments: tuple[str, ...]  # the kconfig variant's fragments, in order


def _toml(value: object) -> str:
    """A TOML value: strings as basic strings (JSON's escapes are TOML's), lists and inline tables of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def matrix_toml(cell: Cell, runtime: Runtime, guest: GuestSettings, layout: Layout, origin: str) -> str:
    """A matrix of exactly cell/runtime, every path in it relative to the bundle.

    The base is pinned to the point release the run tested (v7.3.4, not the v7.3 line): a machine
    whose tarball holds another release is told so instead of testing another kernel.
    """
    src = cell.source
    lines = [f"# One cell of {origin}, written by `zpfarm repro make`; paths are relative to this file.", ""]
    where = f"[sources.{_toml(src.name)}]" if src.name else "[source]"
    if not src.name and layout.series:
        lines.append(f"series = {_toml(layout.series)}")
    lines += [f"testcases = {_toml(layout.testcases)}", "", where]
    if src.tarball is not None:
        lines.append(f"tarball = {_toml(str(src.tarball))}")  # where install.sh puts it on every machine
    else:
        lines.append('tree = "linux"  # a checkout of the tree the run used, put (or linked) beside this file')
    lines.append(f"base = {_toml(src.base)}")
    if src.name:
        lines.append(f"series = {_toml(layout.series or 'series')}")
    memory, cpus = guest.memory, guest.cpus
    lines += ["", "[guest]", f"memory = {_toml(memory)}", f"cpus = {cpus}"]
    lines += [f"boot_timeout = {guest.boot_timeout!r}", f"test_timeout = {guest.test_timeout!r}", ""]
    lines += ["[axes]", f"kernel = {_toml([cell.kernel.value])}", f"arch = {_toml([cell.arch.name])}"]
    lines += [f"kconfig = {_toml([cell.kconfig.name])}", ""]
    lines += [f"[kconfig.{_toml(cell.kconfig.name)}]", f"fragments = {_toml(list(layout.fragments))}"]
    if cell.kconfig.cmdline:
        lines.append(f"cmdline = {_toml(list(cell.kconfig.cmdline))}")
    if cell.kconfig.coverage:
        lines.append("coverage = true")
    lines += ["", f"[runtime.{_toml(runtime.name)}]"]
    if runtime.description:
        lines.append(f"description = {_toml(runtime.description)}")
    if runtime.sysfs:
        lines.append(f"sysfs = {_toml(dict(runtime.sysfs))}")
    if runtime.cmdline:
        lines.append(f"cmdline = {_toml(list(runtime.cmdline))}")
    if runtime.tests:
        lines.append(f"tests = {_toml(list(runtime.tests))}")
    return "\n".join(lines) + "\n"


def command(suite: str, program: str | None, accel: str, artifact: str | None) -> list[str]:
    """The one command the bundle runs, from inside it: its artifact when it has one (no rebuild)."""
    argv = ["zpfarm", "test" if artifact else "run", "--matrix", "matrix.toml", "--cell", suite]
    if artifact:
        argv += ["--kernel", artifact]
    if program:
        argv += ["--test", program]
    return [*argv, "--accel", accel, "--results", "results"]


def reproduce_sh(argv: Sequence[str], expected: int, what: str) -> str:
    """reproduce.sh: check the bundle's sums, run argv from the bundle, exit with zpfarm's code.

    $ZPFARM names the zpfarm to run (default: zpfarm on PATH); arguments are added to its command
    line (a repeated option wins: ./reproduce.sh --accel kvm).
    """
    tail = shlex.join(argv[1:])
    return f"""#!/bin/sh
# Reruns {what} from this directory, on any machine with zpfarm installed.
# Written by `zpfarm repro make`; manifest.json says what ran where. The original run's exit: {expected}.
#   ./reproduce.sh                 as the run did
#   ./reproduce.sh --accel kvm     arguments are added to zpfarm's (a repeated option wins)
#   ZPFARM=~/zpfarm/.venv/bin/zpfarm ./reproduce.sh   another zpfarm than the one on PATH
set -u
cd "$(dirname "$0")" || exit 3
if ! sha256sum --check --quiet --strict SHA256SUMS; then
    echo "reproduce.sh: the bundle does not match its SHA256SUMS: not the bundle that was made" >&2
    exit 2
fi
"${{ZPFARM:-zpfarm}}" {tail} "$@"
rc=$?
echo "reproduce.sh: zpfarm exited $rc; the original run's exit was {expected}" >&2
exit $rc
"""


def ktap_excerpt(text: str, program: str | None) -> str:
    """The program's block of results.ktap (from its `# Subtest:` to its result line), or all of it."""
    lines = text.splitlines()
    if program is None:
        return text
    start = next((i for i, line in enumerate(lines) if line.strip() == f"# Subtest: {program}"), None)
    if start is None:
        return ""
    indent = len(lines[start]) - len(lines[start].lstrip())
    result = re.compile(rf"(not )?ok \d+ {re.escape(program)}(\s|$)")
    end = len(lines)
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if len(line) - len(line.lstrip()) < indent and result.match(line.lstrip()):
            end = i + 1
            break
    head = [lines[0]] if lines and lines[0].startswith("KTAP version") else []
    return "\n".join([*head, *lines[start:end]]) + "\n"


def console_excerpt(text: str, program: str | None) -> str:
    """The kernel's banner and the console between the runner's begin/end markers of program.

    Without the markers (no program named, or the guest died before it): the last CONSOLE_TAIL lines.
    """
    lines = text.splitlines()
    banner = [line for line in lines[:50] if line.startswith(("Linux version", "Command line:"))]
    begin = next((i for i, line in enumerate(lines) if program and line.endswith(f"zpfarm: begin {program}")), None)
    if begin is None:
        kept = lines[-CONSOLE_TAIL:]
    else:
        end = next((i for i in range(begin, len(lines)) if lines[i].endswith(f"zpfarm: end {program}")), len(lines))
        kept = lines[begin : end + 1 + AFTER_END]
    return "\n".join([*banner, "...", *kept[:MAX_EXCERPT_LINES]]) + "\n"


def scrub(text: str, places: Mapping[str, str]) -> str:
    """text with each producing directory (a key) replaced by its placeholder, the longest first.

    vng passes the guest its working directory without the leading slash (virtme_chdir=work/x):
    that is the run's directory, replaced too, and so is every directory's slashless form.
    """
    text = _CHDIR.sub("virtme_chdir=<cwd>", text)
    for path in sorted(places, key=len, reverse=True):
        if path.count("/") > 1:
            text = text.replace(path, places[path]).replace(path.lstrip("/"), places[path])
        elif len(path) > 1:
            text = text.replace(path, places[path])
    return text


def sums(digests: Mapping[str, str]) -> str:
    """SHA256SUMS as `sha256sum -c` reads it: one `HEX  NAME` line per file (names relative), sorted."""
    for name in digests:
        parts = PurePosixPath(name).parts
        if PurePosixPath(name).is_absolute() or ".." in parts or any(c in name for c in "\n\\"):
            raise ValueError(f"{name!r}: not a name inside the bundle")
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(digests.items()))
