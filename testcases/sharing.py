#!/usr/bin/env python3
"""sharing: scenario tests of shared shmem data across tasks and syscalls.

The RFC case (task 1 reads a hole through its mapping, task 2 writes through
its own, task 1 must see the data) between processes, a ping-pong between
two processes page by page, data written into the file by syscalls other
than write(2) (pwritev, sendfile, copy_file_range, splice) after a read
fault, read(2) of a hole (never allocates, on any kernel), and SIGBUS
beyond EOF after truncation.  A failure means stale data after a hole was
filled (a zero-page PTE that was not unmapped) or broken EOF semantics.
"""

import multiprocessing
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zpktap import ALL, PAGE, Region, check, metric, put_word, read_fault_all, run, word

PAGES = 256
ROUNDS = 16
ctx = multiprocessing.get_context("fork")


def _writer_task(region, requests, replies):
    """Task 2: its own open file and its own shared mapping; writes on request."""
    fd = region.reopen()
    import mmap

    m = mmap.mmap(fd, region.size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    while (req := requests.get()) is not None:
        off, value = req
        put_word(m, off, value)
        replies.put(word(m, off))


def rfc_case_two_processes(mode):
    """Failure: task 1 read a hole, task 2 wrote there via its own mapping, task 1 did not see it."""
    r = Region(mode, PAGES * PAGE)
    m = r.map(writable=False)
    requests, replies = ctx.Queue(), ctx.Queue()
    task2 = ctx.Process(target=_writer_task, args=(r, requests, replies))
    task2.start()
    stale = []
    try:
        for k in range(ROUNDS):
            off = (k * 13 % PAGES) * PAGE + 8 * k
            check(word(m, off) == 0, f"round {k}: 1) the hole reads zero")  # 1) read
            requests.put((off, 0xF00D0000 + k))  # 2) task 2 writes
            check(replies.get(timeout=30) == 0xF00D0000 + k, "task 2 reads its own write")
            if word(m, off) != 0xF00D0000 + k:  # 3) read again
                stale.append((k, hex(word(m, off))))
    finally:
        requests.put(None)
        task2.join(30)
    metric("stale_rounds", len(stale))
    check(not stale, f"task 1 sees task 2's data in every round; stale rounds {stale[:4]}")


def _ponger(region, shared, rounds, done):
    m = region.map(shared=True)
    for k in range(rounds):
        off = k * PAGE
        while word(m, off) != 2 * k + 1:  # wait for the ping, reading the page
            pass
        put_word(m, off + 8, 2 * k + 2)  # pong on the same page, other word
    done.set()


def ping_pong_processes(mode):
    """Failure: two processes alternating on fresh holes stopped seeing each other's writes."""
    r = Region(mode, PAGES * PAGE)
    mine = r.map(writable=True, shared=True)
    reader = r.map(writable=False)  # the mode's mapping: private or shared
    done = ctx.Event()
    other = ctx.Process(target=_ponger, args=(r, mode.shared, ROUNDS * 4, done))
    other.start()
    try:
        for k in range(ROUNDS * 4):
            off = k * PAGE
            check(word(reader, off + 8) == 0, f"round {k}: the hole reads zero")
            put_word(mine, off, 2 * k + 1)
            deadline = time.monotonic() + 20
            while word(reader, off + 8) != 2 * k + 2:
                if time.monotonic() > deadline or not other.is_alive():
                    check(
                        word(reader, off + 8) == 2 * k + 2,
                        f"round {k}: the pong written by the other process is seen via the "
                        f"{mode.name} mapping (reads {word(reader, off + 8):#x})",
                    )
                    break
    finally:
        other.kill()
        other.join()


def _read_then(mode, write_fn):
    r = Region(mode, PAGES * PAGE)
    m = r.map(writable=False)
    check(read_fault_all(m, r.size) == 0, "the hole reads zero")
    off = 7 * PAGE + 16
    data = bytes(range(1, 65))
    write_fn(r, off, data)
    check(os.pread(r.fd, len(data), off) == data, "the file holds the data")
    check(
        m[off : off + len(data)] == data,
        f"the mapping sees data written by {write_fn.__name__}; sees {m[off : off + 8].hex()}",
    )


def _scratch(r, data):
    """A source file on the same filesystem as r (copy_file_range needs that)."""
    src = Region(r.mode, PAGE)
    os.pwrite(src.fd, data, 0)
    return src.fd


def read_then_pwritev(mode):
    """Failure: pwritev(2) after a read fault is not seen through the mapping."""

    def pwritev(r, off, data):
        os.pwritev(r.fd, [data[:20], data[20:]], off)

    _read_then(mode, pwritev)


def read_then_sendfile(mode):
    """Failure: sendfile(2) into the file after a read fault is not seen through the mapping."""

    def sendfile(r, off, data):
        src = _scratch(r, data)
        os.lseek(r.fd, off, os.SEEK_SET)
        check(os.sendfile(r.fd, src, 0, len(data)) == len(data), "sendfile copied everything")

    _read_then(mode, sendfile)


def read_then_copy_file_range(mode):
    """Failure: copy_file_range(2) into the file after a read fault is not seen through the mapping."""

    def copy_file_range(r, off, data):
        src = _scratch(r, data)
        check(os.copy_file_range(src, r.fd, len(data), 0, off) == len(data), "copied everything")

    _read_then(mode, copy_file_range)


def read_then_splice(mode):
    """Failure: splice(2) from a pipe into the file after a read fault is not seen through the mapping."""

    def splice(r, off, data):
        rp, wp = os.pipe()
        os.write(wp, data)
        check(os.splice(rp, r.fd, len(data), offset_dst=off) == len(data), "spliced everything")

    _read_then(mode, splice)


def read_syscall_no_alloc(mode):
    """Failure: read(2) of a hole allocated pages (it must use the zero page on every kernel)."""
    r = Region(mode, PAGES * PAGE)
    before = r.blocks_kb()
    data = os.pread(r.fd, r.size, 0)
    metric("blocks_delta_kb", r.blocks_kb() - before)
    check(data == bytes(r.size), "the hole reads zero")
    check(r.blocks_kb() == before, f"no blocks allocated; {r.blocks_kb() - before} kB were")


def truncate_then_sigbus(mode):
    """Failure: access beyond EOF after truncating a read-faulted mapping did not SIGBUS."""
    r = Region(mode, PAGES * PAGE)
    m = r.map(writable=False)
    check(read_fault_all(m, r.size) == 0, "the hole reads zero")
    os.ftruncate(r.fd, PAGE)
    pid = os.fork()
    if pid == 0:
        word(m, 10 * PAGE)  # must die of SIGBUS here
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    check(
        os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGBUS, f"SIGBUS beyond EOF; child status {status:#x}"
    )
    os.ftruncate(r.fd, r.size)
    check(word(m, 10 * PAGE) == 0, "re-extended file reads zero")
    r.pwrite_word(10 * PAGE, 0xE0F)
    check(word(m, 10 * PAGE) == 0xE0F, f"and sees a new write; reads {word(m, 10 * PAGE):#x}")


if __name__ == "__main__":
    sys.exit(
        run(
            [
                (rfc_case_two_processes, ALL),
                (ping_pong_processes, ALL),
                (read_then_pwritev, ALL),
                (read_then_sendfile, ALL),
                (read_then_copy_file_range, ALL),
                (read_then_splice, ALL),
                (read_syscall_no_alloc, ALL),
                (truncate_then_sigbus, ALL),
            ]
        )
    )
