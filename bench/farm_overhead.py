#!/usr/bin/env python3
"""What the farm costs on top of the tools it drives, measured side by side.

(b) incremental rebuild after `touch mm/shmem.c`: raw `make` vs the farm's
    build step (goal: overhead <= 3%).
(c) boot + one test: a bare `vng --exec` of the test binary vs `zpfarm run`
    of the same cell and test (goal: <= 1.2x); also against a bare
    `vng --exec true` (the boot alone, the issue's baseline): as is, which
    charges the test's own run time to the farm, and with the test's time
    (bare run - boot alone) taken out.

Needs the cell built once (`zpfarm run --cell base-x86_64-thp-on/default`).
Prints seconds and ratios; asserts nothing (results: docs/results.md).
    .venv/bin/python bench/farm_overhead.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from farm.guest import boot  # noqa: E402
from farm.host.cache import Cache, default_root  # noqa: E402
from farm.kernel import build, git, source  # noqa: E402
from farm.model import matrix  # noqa: E402

CELL = "base-x86_64-thp-on"
TEST = "zeropage"
# As farm/guest/runner.c mounts them (without them the test skips its tmpfs-huge mode).
TMPFS = (
    ("/run/zpfarm/tmpfs", "size=50%", "ZPFARM_TMPFS"),
    ("/run/zpfarm/tmpfs-huge", "huge=always,size=50%", "ZPFARM_TMPFS_HUGE"),
)


def bare_script(share: Path) -> str:
    """The test by hand: the same tmpfs mounts and environment the guest runner gives it."""
    mounts = " && ".join(f"mkdir -p {path} && mount -t tmpfs -o {options} zpfarm {path}" for path, options, _ in TMPFS)
    env = " ".join(f"{var}={path}" for path, _, var in TMPFS)
    return f"sh -c '{mounts} && cd {share} && {env} ./{TEST}'"


def results(ktap: str, indent: int = 0) -> list[str]:
    """The test's own result lines (ok/not ok, names, directives) at this nesting."""
    lines = (line for line in ktap.splitlines() if line[:indent] == " " * indent)
    return [line[indent:] for line in lines if line[indent:].startswith(("ok ", "not ok "))]


def timed(argv: list[str], **kw: object) -> float:
    start = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
    return time.monotonic() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    runs = ap.parse_args().runs
    m = matrix.load(ROOT / "matrix.toml")
    cell = next(c for c in m.cells if c.name == CELL)
    cache = Cache(default_root())
    tree = cache.worktree(source.repo_name(m.source))
    commit = git.out(tree, ["rev-parse", f"{m.source.base}^{{commit}}"])
    git.checkout(tree, commit)  # the farm's tree may be at a series commit
    out = cache.build(CELL)
    image = out / cell.arch.image
    if not image.is_file():
        sys.exit(f"build {CELL} first: zpfarm run --cell {CELL}/default")
    env = {**cell.arch.cross_env, "CCACHE_DIR": str(cache.ccache)}

    raw, farm = [], []
    for _ in range(runs):
        (tree / "mm" / "shmem.c").touch()
        raw.append(timed([*build.make_argv(cell, out), cell.arch.make_target], cwd=tree, env={**os.environ, **env}))
        (tree / "mm" / "shmem.c").touch()
        (out / ".zpfarm-built").unlink(missing_ok=True)
        start = time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            built = build.build(cell, tree, commit, cache, Path(tmp) / "build.log", lambda _: None)
        assert built.ok, built.message
        farm.append(time.monotonic() - start)
    r, f = statistics.median(raw), statistics.median(farm)
    print(f"(b) rebuild after touch mm/shmem.c: raw make {r:.1f} s, farm {f:.1f} s, ratio {f / r:.3f} (goal <= 1.03)")

    zp = str(Path(sys.executable).parent / "zpfarm")
    bare, through, boot_only = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            share = Path(tmp)
            subprocess.run(["cp", str(cache.testcases("x86_64") / TEST), str(share)], check=True)
            argv = [
                boot.vng(),
                "--run",
                str(image),
                "--disable-kvm",
                "--memory",
                "2G",
                "--cpus",
                "2",
                "--force-9p",
                f"--rwdir={share}",
                "--exec",
                bare_script(share),
            ]
            boot_only.append(timed([*argv[:-1], "true"], env={**os.environ, **boot.vng_env()}))
            start = time.monotonic()
            done = subprocess.run(argv, env={**os.environ, **boot.vng_env()}, capture_output=True, text=True)
            bare.append(time.monotonic() - start)
            bare_results = results(done.stdout)
            if not bare_results:  # the test's KTAP comes back on vng's stdout
                sys.exit(f"bare vng did not run the test (exit {done.returncode}): {done.stderr[-500:]}")
            start = time.monotonic()
            subprocess.run(
                [
                    zp,
                    "run",
                    "--cell",
                    f"{CELL}/default",
                    "--test",
                    TEST,
                    "--accel",
                    "tcg",
                    "--results",
                    str(share / "r"),
                    "--quiet",
                ],
                stdout=subprocess.DEVNULL,
            )
            through.append(time.monotonic() - start)
            ktap = (share / "r" / CELL / "default" / "share" / "results.ktap").read_text()
            if results(ktap, indent=4) != bare_results:  # the runner nests the test's KTAP
                sys.exit(f"the farm ran different test cases than bare vng:\n{ktap}\n---\n{done.stdout}")
    b, t, o = statistics.median(bare), statistics.median(through), statistics.median(boot_only)
    print(f"(c) boot + {TEST} test: bare vng {b:.1f} s, zpfarm run {t:.1f} s, ratio {t / b:.2f} (goal <= 1.2)")
    print(f"(c) bare vng --exec true {o:.1f} s: zpfarm run of {TEST} / boot alone {t / o:.2f}")
    # The test's own run time (bare - boot) is not the farm's: what is left is.
    print(f"(c) boot + the farm's own cost, over the boot alone: {(o + t - b) / o:.2f} (goal <= 1.2)")


if __name__ == "__main__":
    main()
