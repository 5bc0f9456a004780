"""zpktap: KTAP output, modes, regions and a forking runner for zpfarm's
Python guest tests (Python 3.11 stdlib only).

A test is a function f(mode) that returns normally (pass), calls
check()/fail() (fail, with a "# " line saying what was expected and seen) or
skip(reason).  Every subtest runs in a forked child with a timeout, so a
SIGBUS or a hang is reported as "not ok" and later subtests still run.
Diagnostics and "# metric: key=value" lines are printed before the result.
"""

import ctypes
import ctypes.util
import mmap
import os
import signal
import sys
import tempfile
import traceback

PAGE = mmap.PAGESIZE
DEFAULT_TIMEOUT = 60

# ---------------------------------------------------------------- KTAP


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def diag(msg):
    for line in str(msg).splitlines() or [""]:
        out("# " + line)


def metric(key, value):
    """# metric: key=value (key [a-z0-9_]+ with the unit in its name)."""
    out(f"# metric: {key}={value}")


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    """Fail the subtest with 'expected ...; seen ...' text unless cond."""
    if not cond:
        raise Fail(msg)


def fail(msg):
    raise Fail(msg)


def skip(reason):
    raise Skip(reason)


# --------------------------------------------------------------- modes

MEMFD, TMPFS, TMPFS_HUGE = "memfd", "tmpfs", "tmpfs-huge"
BACKINGS = (MEMFD, TMPFS, TMPFS_HUGE)


class Mode:
    def __init__(self, backing, shared):
        self.backing = backing
        self.shared = shared

    @property
    def name(self):
        return f"{self.backing},{'shared' if self.shared else 'private'}"

    def unavailable(self):
        if self.backing == TMPFS_HUGE and not os.environ.get("ZPFARM_TMPFS_HUGE"):
            return "ZPFARM_TMPFS_HUGE not set (no THP in this kernel or no huge=always tmpfs)"
        return None


ALL = [Mode(b, s) for b in BACKINGS for s in (False, True)]
PRIVATE = [m for m in ALL if not m.shared]
SHARED = [m for m in ALL if m.shared]

# -------------------------------------------------------------- regions

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02


def fallocate(fd, mode, off, length):
    if _libc.fallocate(fd, mode, off, length) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def punch_hole(fd, off, length):
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, length)


class Region:
    """A shmem file of `size` bytes, all hole: memfd or an unlinked tmpfs file."""

    def __init__(self, mode, size):
        self.mode = mode
        self.size = size
        if mode.backing == MEMFD:
            self.fd = os.memfd_create("zpfarm", os.MFD_CLOEXEC)
        else:
            d = (
                os.environ.get("ZPFARM_TMPFS_HUGE")
                if mode.backing == TMPFS_HUGE
                else os.environ.get("ZPFARM_TMPFS") or "/dev/shm"
            )
            self.fd, path = tempfile.mkstemp(prefix="zpfarm-", dir=d)
            os.unlink(path)
        os.ftruncate(self.fd, size)

    def map(self, writable=True, shared=None):
        """A new mapping; shared defaults to the mode's."""
        shared = self.mode.shared if shared is None else shared
        prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
        flags = mmap.MAP_SHARED if shared else mmap.MAP_PRIVATE
        return mmap.mmap(self.fd, self.size, flags=flags, prot=prot)

    def reopen(self):
        """A new open file description of the same file (another 'task')."""
        return os.open(f"/proc/self/fd/{self.fd}", os.O_RDWR)

    def pread_word(self, off):
        return int.from_bytes(os.pread(self.fd, 8, off), "little")

    def pwrite_word(self, off, value):
        os.pwrite(self.fd, value.to_bytes(8, "little"), off)

    def blocks_kb(self):
        return os.fstat(self.fd).st_blocks // 2


def word(m, off):
    """Read (and fault) the 8-byte word at off of an mmap."""
    return int.from_bytes(m[off : off + 8], "little")


def put_word(m, off, value):
    m[off : off + 8] = value.to_bytes(8, "little")


def read_fault_all(m, size):
    """Touch every page; returns the number of non-zero first words."""
    return sum(1 for off in range(0, size, PAGE) if m[off] or word(m, off))


# -------------------------------------------------------------- /proc


def proc_field_kb(path, key):
    with open(path) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def meminfo_kb(key):
    return proc_field_kb("/proc/meminfo", key)


def status_kb(key):
    return proc_field_kb("/proc/self/status", key)


# --------------------------------------------------------------- runner


def _run_child(fn, mode, wfd, timeout):
    signal.alarm(timeout)
    code = 0
    try:
        fn(mode)
    except Skip as e:
        os.write(wfd, str(e).encode()[:1000])
        code = 4
    except Fail as e:
        diag(f"{fn.__name__}: expected {e}")
        code = 1
    except Exception:  # a crash of the test itself is a failure, with its trace
        diag(traceback.format_exc())
        code = 1
    sys.stdout.flush()
    os._exit(code)


def run(tests):
    """tests: list of (function, modes or None[, timeout_s]).  Returns exit status."""
    plan = sum(len(t[1]) if t[1] else 1 for t in tests)
    out("KTAP version 1")
    out(f"1..{plan}")
    nr = failed = 0
    for t in tests:
        fn, modes = t[0], t[1]
        timeout = t[2] if len(t) > 2 else DEFAULT_TIMEOUT
        for mode in modes or [None]:
            nr += 1
            name = fn.__name__ + (f"[{mode.name}]" if mode else "")
            why = mode.unavailable() if mode else None
            if why:
                out(f"ok {nr} {name} # SKIP {why}")
                continue
            r, w = os.pipe()
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                _run_child(fn, mode, w, timeout)
            os.close(w)
            reason = b""
            while chunk := os.read(r, 1024):
                reason += chunk
            os.close(r)
            _, status = os.waitpid(pid, 0)
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
                out(f"ok {nr} {name}")
            elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == 4:
                out(f"ok {nr} {name} # SKIP {reason.decode(errors='replace') or 'skipped'}")
            else:
                if os.WIFSIGNALED(status):
                    sig = os.WTERMSIG(status)
                    diag(
                        f"timed out after {timeout} s (hang?)"
                        if sig == signal.SIGALRM
                        else f"killed by signal {sig} ({signal.Signals(sig).name})"
                    )
                out(f"not ok {nr} {name}")
                failed += 1
    diag(f"totals: {nr} subtests, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    # A helper module, not a test: an empty plan if run by mistake.
    out("KTAP version 1")
    out("1..0 # SKIP zpktap.py is the helper module of the Python tests")
