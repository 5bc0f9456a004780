#!/usr/bin/env python3
"""Which base config builds faster: the farm's fragment or virtme-ng's default?

(a) one cold build of the same tree, raw `make -j$(nproc)` without ccache,
    configured two ways in fresh O= directories:
      farm: farm/configs/base-<arch>.config + thp-on.config (merge_config.sh -n, olddefconfig)
      vng:  `virtme-configkernel --defconfig` (what `vng --kconfig` writes)
    then each image boots `vng --exec true` under TCG, to show both work.

Needs the base worktree (`zpfarm run` once). Takes about 25 minutes on 2 cores.
Prints seconds, option counts and the ratio; asserts nothing.
    .venv/bin/python bench/cold_build.py [--arch x86_64]
"""

from __future__ import annotations

import argparse
import os
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


def options(config: Path) -> int:
    return sum(1 for line in config.read_text().splitlines() if line.startswith("CONFIG_"))


def cold_make(tree: Path, out: Path, target: str, env: dict[str, str]) -> float:
    start = time.monotonic()
    argv = ["make", f"O={out}", f"-j{os.cpu_count() or 1}", target]
    subprocess.run(argv, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - start


def boots(image: Path, arch: str) -> bool:
    argv = [boot.vng(), "--run", str(image), "--disable-kvm", "--memory", "1G", "--exec", "true"]
    if arch != "x86_64":
        argv += ["--arch", arch]
    done = subprocess.run(argv, env={**os.environ, **boot.vng_env()}, capture_output=True, timeout=600)
    return done.returncode == 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="x86_64")
    arch_name = ap.parse_args().arch
    m = matrix.load(ROOT / "matrix.toml")
    cell = next(c for c in m.cells if c.kernel == "base" and c.arch.name == arch_name and c.kconfig.name == "thp-on")
    cache = Cache(default_root())
    tree = cache.worktree(source.repo_name(m.source))
    if not (tree / "Makefile").is_file():
        sys.exit(f"no farm worktree at {tree}: run `zpfarm run --cell {cell.name}/default` first")
    env = {**os.environ, **cell.arch.cross_env, "CCACHE_DISABLE": "1"}
    with cache.trees_lock(lambda: print("waiting for a zpfarm run to finish")), tempfile.TemporaryDirectory() as tmp:
        git.checkout(tree, git.out(tree, ["rev-parse", f"{m.source.base}^{{commit}}"]))
        farm_out, vng_out = Path(tmp) / "farm", Path(tmp) / "vng"
        farm_out.mkdir()
        build.configure(cell, tree, farm_out, env, Path(tmp) / "farm-config.log")
        configkernel = Path(boot.vng()).with_name("virtme-configkernel")
        argv = [str(configkernel), "--defconfig", "--arch", cell.arch.name, f"O={vng_out}"]
        if not cell.arch.native:
            argv.append(f"CROSS_COMPILE={cell.arch.cross_compile}")
        subprocess.run(argv, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
        rows = []
        for name, out in (("farm", farm_out), ("vng", vng_out)):
            seconds = cold_make(tree, out, cell.arch.make_target, env)
            rows.append((name, options(out / ".config"), seconds, boots(out / cell.arch.image, cell.arch.name)))
    for name, count, seconds, ok in rows:
        print(f"(a) {name:4} config: {count:5} options, cold make {seconds:7.1f} s, boots: {'yes' if ok else 'NO'}")
    print(f"(a) farm/vng cold build ratio: {rows[0][2] / rows[1][2]:.2f}")


if __name__ == "__main__":
    main()
