"""The kernel's own selftests (tools/testing/selftests mm and memfd) as guest tests.

build() turns a kernel tree into GuestTests for one arch:

1. copy the selftest sources (and the few files outside them that they
   include) into <out>/src, applying _PATCHES to the copy: the worktree is
   never written (the mm Makefile writes local_config.h next to its sources);
2. install the tree's UAPI headers: ``make O=<out>/headers headers``;
3. compile each selected program, statically (the arm64 guest root is a
   minimal Debian with libc6 and python3 only), with one ``make`` per program
   so one that does not build cannot hide the others.

Nothing is rebuilt when the inputs (every copied source, the tree's UAPI
headers and syscall tables, the patches, the arch) hash to the stamp of the
last build. A program that does not build is data, not an exception: its
GuestTest prints "Bail out!" with the compiler's error, which the farm
reports as an <error> naming it. Every program runs under guest/ksft_tap.py
(on a pty, so a static binary line-buffers and a crash loses no output): it
passes kselftest TAP through, naming the nameless "ok N # SKIP" results of
cow and gup_longterm after their "# [RUN]" lines, and turns the own formats
of uffd-unit-tests, khugepaged and memfd_test into TAP 13. The first GuestTest,
"selftests-setup" (guest/ksft_setup.py), mounts debugfs, turns on zram swap
and reserves hugetlb pages, one TAP result per step.

The io_uring cases of cow and gup_longterm (R/O long-term pins through
io_uring fixed buffers) need liburing at build time: Debian's liburing-dev
(install.sh) gives x86_64 a static liburing.a; there is none for the arm64
cross build, so there they skip (the setup step reports that as a skip).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from farm.guest.selftest_runs import SELFTEST_DIR, SHORT, Run, programs, runs
from farm.host import proc
from farm.model.arches import Arch
from farm.model.errors import InfraError
from farm.model.programs import GUEST_PYTHON, GuestTest

GUEST = Path(__file__).parent / "files"
TAP_ADAPTER = GUEST / "ksft_tap.py"
SETUP = GUEST / "ksft_setup.py"
SETUP_NAME = "selftests-setup"
SETUP_TIMEOUT = 120.0
ADAPTER_MARGIN = 30.0  # ksft_tap.py's own timeout is this much below the runner's
_VERSION = "4"  # bump when the build recipe changes: forces a rebuild


@dataclass(frozen=True)
class Patch:
    """A fix the farm applies to its copy of the selftests, never to the tree."""

    path: str  # relative to tools/testing/selftests
    why: str
    old: str
    new: str
    fixed_by: tuple[str, str] | None = None  # (path, text): that file holding that text makes the patch moot

    def needed(self, selftests_dir: Path) -> bool:
        """False when the tree fixed the problem another way (fixed_by)."""
        if self.fixed_by is None:
            return True
        path, text = self.fixed_by
        return text not in _read(selftests_dir / path)

    def apply(self, text: str) -> str:
        """The patched text; unchanged when the tree already has the fix."""
        if self.new in text or self.old not in text:
            return text
        return text.replace(self.old, self.new, 1)


_PATCHES: tuple[Patch, ...] = (
    Patch(
        "mm/khugepaged.c",
        "6.12.y: khugepaged.c returns KSFT_SKIP but does not include kselftest.h",
        '#include "vm_util.h"\n',
        '#include "vm_util.h"\n#include "../kselftest.h"\n',
        fixed_by=("mm/vm_util.h", '#include "kselftest.h"'),  # 7.x: vm_util.h brings it
    ),
    Patch(
        "mm/mremap_test.c",
        "6.12.y: the destination search checks the remap region but not the preamble below it, so the "
        "40MB-preamble case fails with EEXIST when the randomized brk heap lands there (seen on base and "
        "series: heap at 0x47ba000 inside the preamble 0x2f00000..0x5700000)",
        "\twhile (!is_remap_region_valid(addr, c.region_size) && !c.overlapping) {\n",
        "\twhile (!is_remap_region_valid(addr - c.dest_preamble_size,\n"
        "\t\t\t\t      c.dest_preamble_size + c.region_size) && !c.overlapping) {\n",
    ),
    Patch(
        "mm/uffd-common.c",
        "6.12.y: the shmem areas are mapped at a fixed 1 GiB hint and the test gives up when the kernel "
        "places them elsewhere; on arm64 a static binary's brk is randomized over 1 GiB, so its heap can lie "
        "there (seen once: 'poison on shmem', 'mmap of memfd failed at 0x40000000'). Use a free PMD-aligned range",
        "#define BASE_PMD_ADDR ((void *)(1UL << 30))\n",
        "/* zpfarm: a free PMD-aligned range for src, dst and their aliases, not a fixed hint. */\n"
        "static void *base_pmd_addr(size_t bytes, size_t hpage_size)\n"
        "{\n"
        "\tsize_t align = hpage_size ? hpage_size : (size_t)getpagesize(); /* 0 without THP */\n"
        "\tsize_t len = 4 * (bytes + hpage_size) + align;\n"
        "\tchar *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);\n"
        "\n"
        "\tif (p == MAP_FAILED)\n"
        '\t\terr("reserving an area");\n'
        "\tmunmap(p, len);\n"
        "\treturn (void *)(((unsigned long)p + align - 1) & ~(align - 1));\n"
        "}\n"
        "\n"
        "#define BASE_PMD_ADDR base_pmd_addr(bytes, hpage_size)\n",
    ),
)

# What the selftests read from the tree, relative to its root: copied to out/src.
_COPIED = (
    f"{SELFTEST_DIR}/lib.mk",
    f"{SELFTEST_DIR}/kselftest.h",
    f"{SELFTEST_DIR}/kselftest_harness.h",
    f"{SELFTEST_DIR}/kselftest",
    f"{SELFTEST_DIR}/mm",
    f"{SELFTEST_DIR}/memfd",
    f"{SELFTEST_DIR}/x86/check_cc.sh",  # the mm Makefile probes the compiler with these
    f"{SELFTEST_DIR}/x86/trivial_32bit_program.c",
    f"{SELFTEST_DIR}/x86/trivial_64bit_program.c",
    f"{SELFTEST_DIR}/x86/trivial_program.c",
    "tools/include",
    "mm/gup_test.h",
)
# Generated by the mm Makefile in the copy; never copied, never hashed. The header is
# local_config.h up to 6.x and local_config.h_gen later (check_config.sh's OUTPUT_H_FILE).
_GENERATED = frozenset({"local_config.h", "local_config.h_gen", "local_config.mk"})


def _headers_inputs(arch: Arch) -> tuple[str, ...]:
    """What `make headers` turns into the UAPI headers, for the stamp."""
    karch = "x86" if arch.kernel_arch == "x86_64" else arch.kernel_arch
    return ("include/uapi", f"arch/{karch}/include/uapi", f"arch/{karch}/entry/syscalls", "scripts/syscall.tbl")


def _files(root: Path, rel: str) -> Iterator[str]:
    path = root / rel
    if path.is_file():
        yield rel
    elif path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.is_file() and f.name not in _GENERATED:
                yield str(f.relative_to(root))


def _digest(tree: Path, arch: Arch) -> str:
    h = hashlib.sha256(f"{_VERSION} {arch.name}\n".encode())
    for patch in _PATCHES:
        h.update(repr(patch).encode())
    for top in (*_COPIED, *_headers_inputs(arch)):
        for rel in _files(tree, top):
            h.update(f"{rel}\n".encode())
            h.update((tree / rel).read_bytes())
    return h.hexdigest()


def _copy_sources(tree: Path, src: Path) -> list[str]:
    """Mirror the selftest sources into src, patched; what was patched, for the log."""
    if src.exists():
        shutil.rmtree(src)
    applied = []
    for top in _COPIED:
        for rel in _files(tree, top):
            dest = src / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(tree / rel, dest)
    for patch in _PATCHES:
        target = src / SELFTEST_DIR / patch.path
        if target.is_file() and patch.needed(src / SELFTEST_DIR):
            text = target.read_text()
            patched = patch.apply(text)
            if patched != text:
                target.write_text(patched)
                applied.append(f"patched {patch.path}: {patch.why}")
    return applied


def _build_failure(log: Path, program: str) -> str:
    """The first compiler error in a program's build log, else its last line."""
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    errors = [line.strip() for line in lines if "error:" in line or "undefined reference" in line]
    return errors[0] if errors else (lines[-1].strip() if lines else f"{program}: no build log")


def _bail(run: Run, reason: str) -> GuestTest:
    """A GuestTest that reports why a selftest could not be built."""
    message = f"{run.program} did not build: {reason}".replace("\n", " ")
    script = f"print('TAP version 13'); print({('Bail out! ' + message)!r}); raise SystemExit(1)"
    return GuestTest(run.name, (GUEST_PYTHON, "-c", script), (), SHORT)


def build(tree: Path, arch: Arch, out: Path, log: Path) -> list[GuestTest]:
    """Build the selected selftests of tree for arch into out; the GuestTests to run.

    out is a cache directory per kernel x arch, reused between runs. The setup
    step comes first. A program that does not build is a GuestTest that says
    why; an InfraError only when a tool is missing (nothing could build).
    """
    if shutil.which(arch.cc) is None:
        raise InfraError(f"{arch.cc} not found: cannot build the selftests for {arch.name} (run `zpfarm doctor`)")
    out.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    bins = out / "bin"
    digest = _digest(tree, arch)
    stamp = out / ".zpfarm-selftests"
    if stamp.is_file() and stamp.read_text() == digest:
        log.write_text(f"up to date: selftests {digest[:12]} for {arch.name}\n")
    else:
        stamp.unlink(missing_ok=True)
        if bins.exists():
            shutil.rmtree(bins)
        logs.mkdir(parents=True, exist_ok=True)
        notes = _copy_sources(tree, out / "src")
        notes.append(_local_config(arch, out / "src" / SELFTEST_DIR / "mm"))
        log.write_text("".join(f"{n}\n" for n in notes))
        headers = proc.run(
            ["make", "-C", str(tree), f"O={out / 'headers'}", f"ARCH={arch.kernel_arch}", "headers"],
            env=arch.cross_env,
            log=logs / "headers.log",
            timeout=900,
        )
        with log.open("a") as summary:
            summary.write(f"make headers: {'ok' if headers.ok else 'FAILED'} ({logs / 'headers.log'})\n")
            for program in programs(tree):
                ok = _compile(out, arch, program, headers.ok)
                target, name = program.split("/")
                why = "built" if ok else f"FAILED: {_build_failure(logs / f'{target}-{name}.log', program)}"
                summary.write(f"{program}: {why}\n")
        stamp.write_text(digest)
    return _guest_tests(tree, out)


_LIBURING_PROBE = "#include <liburing.h>\nint main(void) { struct io_uring r; return io_uring_queue_init(1, &r, 0); }\n"


def _local_config(arch: Arch, mm: Path) -> str:
    """Write what mm/check_config.sh would, but probe liburing by linking statically for arch.

    check_config.sh only compiles its probe, and a Debian cross compiler finds
    the host's liburing.h: it would enable io_uring for arm64, whose link then
    fails (there is no arm64 liburing.a). Written after the copy, so newer than
    check_config.sh: make keeps it.
    """
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.c"
        probe.write_text(_LIBURING_PROBE)
        linked = proc.run([arch.cc, "-static", str(probe), "-luring", "-o", str(Path(tmp) / "probe")]).ok
    _config_header(mm).write_text("#define LOCAL_CONFIG_HAVE_LIBURING 1\n" if linked else "// no liburing\n")
    (mm / "local_config.mk").write_text(f"IOURING_EXTRA_LIBS = {'-luring' if linked else ''}\n")
    return f"liburing for {arch.name}: {'yes' if linked else 'no (no static liburing links)'}"


def _config_header(mm: Path) -> Path:
    """The header the tree's mm Makefile wants: check_config.sh's OUTPUT_H_FILE (7.x), else local_config.h."""
    named = re.search(r"^OUTPUT_H_FILE=(\S+)", _read(mm / "check_config.sh"), re.M)
    return mm / (named.group(1) if named else "local_config.h")


def _compile(out: Path, arch: Arch, program: str, headers_ok: bool) -> bool:
    """make one program; a failure leaves no binary and its log says why."""
    target, name = program.split("/")
    plog = out / "logs" / f"{target}-{name}.log"
    if not headers_ok:
        plog.write_text(f"error: make headers failed (see {out / 'logs' / 'headers.log'})\n")
        return False
    env = arch.cross_env
    argv = [
        "make",
        "-C",
        str(out / "src" / SELFTEST_DIR / target),
        f"OUTPUT={out / 'bin' / target}",
        f"KHDR_INCLUDES=-isystem {out / 'headers' / 'usr' / 'include'}",
        "USERLDFLAGS=-static",  # lib.mk: extra LDFLAGS from the command line
        f"ARCH={arch.kernel_arch}",
    ]
    if "CROSS_COMPILE" in env:
        argv.append(f"CROSS_COMPILE={env['CROSS_COMPILE']}")
    (out / "bin" / target).mkdir(parents=True, exist_ok=True)
    done = proc.run([*argv, str(out / "bin" / target / name)], log=plog, timeout=900)
    return done.ok and binary(out, program).is_file()


def binary(out: Path, program: str) -> Path:
    """Where build() leaves a program's binary."""
    return out / "bin" / program


def _guest_tests(tree: Path, out: Path) -> list[GuestTest]:
    config_h = _config_header(out / "src" / SELFTEST_DIR / "mm")
    liburing = "yes" if "HAVE_LIBURING" in _read(config_h) else "no"
    tests = [GuestTest(SETUP_NAME, (GUEST_PYTHON, SETUP.name, f"liburing={liburing}"), (SETUP,), SETUP_TIMEOUT)]
    share = out / "share"
    share.mkdir(exist_ok=True)
    for run in runs(tree):
        built = binary(out, run.program)
        if not built.is_file():
            target, name = run.program.split("/")
            tests.append(_bail(run, _build_failure(out / "logs" / f"{target}-{name}.log", run.program)))
            continue
        # Flat, unique file names: the share directory holds every cell's tests.
        flat = share / ("selftests-" + run.program.replace("/", "-"))
        if not flat.is_file() or flat.stat().st_mtime_ns != built.stat().st_mtime_ns:
            shutil.copy2(built, flat)
        # The adapter kills the program before the runner kills the adapter,
        # so a hang is reported with the name of the test that hung.
        limit = f"{run.timeout - ADAPTER_MARGIN:.0f}"
        argv = (GUEST_PYTHON, TAP_ADAPTER.name, "--timeout", limit, run.format, f"./{flat.name}", *run.args)
        tests.append(GuestTest(run.name, argv, (TAP_ADAPTER, flat), run.timeout))
    return tests


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""
