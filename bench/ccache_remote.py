#!/usr/bin/env python3
"""ccache remote storage across machines: does a second machine build from the first one's cache?

A redis-server on 127.0.0.1 (random port, no persistence) is the shared
remote storage. Machine A unpacks the kernel tarball under one root, builds
an x86_64 tinyconfig kernel (O= beside the tree, through ccache with the
farm's settings, farm.host.ccache.env, and the reproducible-build variables)
with an empty local cache. Machine B does the same under another root (a
different absolute path, an empty local cache). Prints both build times, the
second as a ratio of the first (goal <= 0.2x), and the second's hit rate
(goal >= 90%). Asserts nothing; the work directory is removed at the end.

    .venv/bin/python bench/ccache_remote.py [--tarball /usr/src/linux-source-6.12.tar.xz] [--work /var/tmp]

About 10 to 15 minutes on 2 idle cores (the cold build dominates). Results: docs/results.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from farm.host import ccache, proc  # noqa: E402
from farm.kernel import reproducible  # noqa: E402

GOAL_RATIO = 0.2
GOAL_HIT_RATE = 0.9
EPOCH = 946684800  # 2000-01-01, the date the farm commits a tarball import with


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen([*argv, "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise SystemExit("redis-server did not start")
        yield f"redis://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def machine(name: str, root: Path, tarball: Path, remote: str, jobs: int) -> tuple[float, ccache.Stats]:
    """Unpack, configure tinyconfig and build bzImage under root; (build seconds, ccache stats)."""
    src, out = root / "linux", root / "build"
    src.mkdir(parents=True)
    unpack = ["tar", "-xf", str(tarball), "-C", str(src), "--strip-components=1"]
    step(f"{name}: unpack {tarball.name} into {src}", unpack)
    env = {**ccache.env(root / "ccache", root, remote), **reproducible.reproducible_env(EPOCH), "ARCH": "x86_64"}
    make = ["make", "-C", str(src), f"O={out}", "CC=ccache gcc", "HOSTCC=ccache gcc"]
    step(f"{name}: tinyconfig", [*make, "tinyconfig"], env)
    ccache.zero(env)
    start = time.monotonic()
    step(f"{name}: build bzImage -j{jobs}", [*make, f"-j{jobs}", "bzImage"], env, root / "build.log")
    return time.monotonic() - start, ccache.stats(env)


def step(what: str, argv: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> None:
    print(what, flush=True)
    done = proc.run(argv, env=env, log=log, timeout=3 * 3600)
    if not done.ok:
        raise SystemExit(f"{what} failed: {done.tail(3)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tarball", type=Path, default=Path("/usr/src/linux-source-6.12.tar.xz"))
    parser.add_argument("--work", type=Path, default=Path("/var/tmp"), help="where the two machines' roots go")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    for tool in ("redis-server", "ccache", "gcc"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing (apt-get install redis-server ccache gcc)")
    args.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zpfarm-ccache-bench-", dir=args.work) as tmp:
        work = Path(tmp)
        with redis_server(work) as remote:
            print(f"remote storage: {remote}; load: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
            first, a = machine("machine A", work / "a", args.tarball, remote, args.jobs)
            second, b = machine("machine B", work / "elsewhere" / "b", args.tarball, remote, args.jobs)
        print(f"load at the end: {os.getloadavg()[0]:.1f}")
        report(first, a, second, b)  # before removing two kernel trees, which takes minutes on a busy disk


def report(first: float, a: ccache.Stats, second: float, b: ccache.Stats) -> None:
    ratio = second / first
    print(f"machine A (cold, empty caches): {first:.0f} s, {a.hits}/{a.calls} hits")
    print(f"machine B (other path, empty local cache): {second:.0f} s, {b.hits}/{b.calls} hits")
    print(f"  {b.remote_hits} from the remote storage, {b.remote_errors} remote errors")
    print(f"time ratio B/A: {ratio:.2f}x (goal <= {GOAL_RATIO}x: {'met' if ratio <= GOAL_RATIO else 'NOT met'})")
    verdict = "met" if b.hit_rate >= GOAL_HIT_RATE else "NOT met"
    print(f"hit rate B: {b.hit_rate:.1%} (goal >= {GOAL_HIT_RATE:.0%}: {verdict})", flush=True)


if __name__ == "__main__":
    main()
