"""farm.host.ccache: two "machines" (other paths, empty local caches) share hits through a real redis."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from farm.host import ccache, proc
from farm.model.errors import UserError

FILES = 12


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server on 127.0.0.1 (random port, no persistence), stopped at the end."""
    server = shutil.which("redis-server")
    if server is None or shutil.which("ccache") is None:
        pytest.skip("needs redis-server and ccache (apt-get install redis-server ccache)")
    port = _free_port()
    argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    redis = subprocess.Popen([*argv, "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or redis.poll() is not None:
                    pytest.fail("redis-server did not start")
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        redis.terminate()
        redis.wait(timeout=10)


def _project(root: Path) -> Path:
    """A small C project under root/src: a header and FILES sources."""
    src = root / "src"
    (src / "include").mkdir(parents=True)
    (src / "include" / "common.h").write_text("#define SCALE 3\nstatic inline int twice(int x) { return 2 * x; }\n")
    for i in range(FILES):
        body = f'#include "common.h"\nint f{i}(int x) {{ return twice(x) * SCALE + {i}; }}\n'
        (src / f"f{i}.c").write_text(body + f"const char *where{i} = __FILE__;\n")
    return src


def _build(root: Path, env: dict[str, str]) -> ccache.Stats:
    """Compile every file with absolute paths (as an O= kernel build does), from an out directory."""
    src, out = root / "src", root / "out"
    out.mkdir(exist_ok=True)
    ccache.zero(env)
    for c in sorted(src.glob("*.c")):
        argv = ["ccache", "gcc", "-O2", "-g", f"-I{src / 'include'}", "-c", str(c), "-o", str(out / f"{c.stem}.o")]
        done = proc.run(argv, cwd=out, env=env)
        assert done.ok, done.output
    return ccache.stats(env)


def test_another_machine_hits_the_remote_storage(tmp_path: Path, redis_url: str) -> None:
    a = tmp_path / "machine-a"
    _project(a)
    first = _build(a, ccache.env(a / "ccache", a, redis_url))
    assert (first.misses, first.hits) == (FILES, 0)
    assert first.remote_errors == 0

    b = tmp_path / "elsewhere" / "machine-b"  # another path, an empty local cache, the same redis
    shutil.copytree(a / "src", b / "src")
    second = _build(b, ccache.env(b / "ccache", b, redis_url))
    assert second.hits == FILES and second.remote_hits == FILES and second.misses == 0
    assert second.hit_rate == 1.0

    c = tmp_path / "third" / "machine-c"  # the same without CCACHE_BASEDIR: the paths differ, so it misses
    shutil.copytree(a / "src", c / "src")
    no_basedir = ccache.env(c / "ccache", c, redis_url)
    no_basedir["CCACHE_BASEDIR"] = ""
    third = _build(c, no_basedir)
    assert third.misses == FILES and third.hits == 0


def test_remote_url_from_config_or_environment() -> None:
    assert ccache.remote_url("redis://cache:6379", {}) == "redis://cache:6379"
    assert ccache.remote_url(None, {"CCACHE_REMOTE_STORAGE": "http://c/ccache"}) == "http://c/ccache"
    assert ccache.remote_url("redis://a", {"CCACHE_REMOTE_STORAGE": "http://b"}) == "redis://a"
    assert ccache.remote_url(None, {}) is None
    with pytest.raises(UserError, match="expected a redis://"):
        ccache.remote_url("ftp://x", {})
    env = ccache.env(Path("/c/ccache"), Path("/c"), "redis://x")
    assert env["CCACHE_BASEDIR"] == "/c" and env["CCACHE_REMOTE_STORAGE"] == "redis://x"
    assert "CCACHE_REMOTE_STORAGE" not in ccache.env(Path("/c/ccache"), Path("/c"))


def test_parse_stats() -> None:
    text = "cache_miss\t3\ndirect_cache_hit\t5\npreprocessed_cache_hit\t2\nremote_storage_hit\t6\nother\t1\n"
    s = ccache.parse_stats(text)
    assert (s.hits, s.misses, s.remote_hits, s.calls) == (7, 3, 6, 10)
    assert s.hit_rate == 0.7
    with pytest.raises(Exception, match="no cache_miss"):
        ccache.parse_stats("garbage")
