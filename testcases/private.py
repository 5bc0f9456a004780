#!/usr/bin/env python3
"""private: MAP_PRIVATE semantics over shmem holes.

A private mapping sees changes of the file until it writes a page; its own
writes never reach the file or any other mapping; and its written (COWed)
pages survive the file being filled or punched later.  A failure means the
zero-page handling broke MAP_PRIVATE: stale reads, leaked private data, or
private data dropped when the series zaps zero-page PTEs.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zpktap import PAGE, PRIVATE, Region, check, metric, punch_hole, put_word, read_fault_all, run, word

PAGES = 64


def sees_file_changes_until_write(mode):
    """Failure: a private mapping missed a file change before writing, or saw one after."""
    r = Region(mode, PAGES * PAGE)
    priv = r.map(writable=True)
    check(read_fault_all(priv, r.size) == 0, "the hole reads zero")
    r.pwrite_word(0, 0xA)
    check(word(priv, 0) == 0xA, f"private mapping sees pwrite before writing; seen {word(priv, 0):#x}")
    put_word(priv, 0, 0xB)
    check(word(priv, 0) == 0xB, "private mapping reads its own write")
    check(r.pread_word(0) == 0xA, f"file unchanged by the private write; file holds {r.pread_word(0):#x}")
    r.pwrite_word(0, 0xC)
    check(word(priv, 0) == 0xB, f"a written private page no longer follows the file; seen {word(priv, 0):#x}")
    r.pwrite_word(PAGE, 0xD)
    check(word(priv, PAGE) == 0xD, f"an unwritten private page follows the file; seen {word(priv, PAGE):#x}")


def private_write_stays_private(mode):
    """Failure: a private write after a read fault reached the file or another mapping."""
    r = Region(mode, PAGES * PAGE)
    p1, p2 = r.map(), r.map()
    shared = r.map(shared=True)
    for m in (p1, p2, shared):
        check(read_fault_all(m, r.size) == 0, "the hole reads zero")
    off = 5 * PAGE + 24
    put_word(p1, off, 0x5EC2E7)
    check(word(p2, off) == 0, f"other private mapping unaffected; seen {word(p2, off):#x}")
    check(word(shared, off) == 0, f"shared mapping unaffected; seen {word(shared, off):#x}")
    check(r.pread_word(off) == 0, f"file unaffected; holds {r.pread_word(off):#x}")
    pid = os.fork()
    if pid == 0:
        child = r.map()
        os._exit(0 if word(child, off) == 0 and word(p2, off) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    check(os.waitstatus_to_exitcode(status) == 0, "a child process's private mapping reads zero there")
    fresh = Region(mode, PAGE).map(writable=False)
    check(fresh[:PAGE] == bytes(PAGE), "a fresh hole reads zero (zero page not written)")


def private_cow_survives_fill(mode):
    """Failure: filling the file dropped or overwrote a private mapping's own (COWed) page."""
    r = Region(mode, PAGES * PAGE)
    priv = r.map()
    check(read_fault_all(priv, r.size) == 0, "the hole reads zero")
    for i in range(0, PAGES, 2):
        put_word(priv, i * PAGE, 0x1000 + i)
    os.pwrite(r.fd, bytes([0x77]) * r.size, 0)  # fill every page of the file
    lost = [i for i in range(0, PAGES, 2) if word(priv, i * PAGE) != 0x1000 + i]
    stale = [i for i in range(1, PAGES, 2) if word(priv, i * PAGE) != int.from_bytes(bytes([0x77]) * 8, "little")]
    metric("lost_private_pages", len(lost))
    metric("stale_pages", len(stale))
    check(not lost, f"written private pages keep their data; lost {lost[:8]}")
    check(not stale, f"unwritten private pages see the fill; stale {stale[:8]}")


def private_cow_survives_punch(mode):
    """Failure: punching a hole dropped a private mapping's own page, or unwritten pages kept old data."""
    r = Region(mode, PAGES * PAGE)
    priv = r.map()
    check(read_fault_all(priv, r.size) == 0, "the hole reads zero")
    put_word(priv, 3 * PAGE, 0x333)
    r.pwrite_word(4 * PAGE, 0x444)
    check(word(priv, 4 * PAGE) == 0x444, "unwritten private page sees the pwrite")
    punch_hole(r.fd, 0, r.size)
    check(word(priv, 3 * PAGE) == 0x333, f"written private page survives the punch; seen {word(priv, 3 * PAGE):#x}")
    check(word(priv, 4 * PAGE) == 0, f"unwritten private page reads the new hole; seen {word(priv, 4 * PAGE):#x}")
    r.pwrite_word(4 * PAGE, 0x555)
    check(word(priv, 4 * PAGE) == 0x555, f"... and then the refill; seen {word(priv, 4 * PAGE):#x}")


def private_ro_mapping_follows_file(mode):
    """Failure: a read-only private mapping of holes stopped following the file."""
    r = Region(mode, PAGES * PAGE)
    ro = r.map(writable=False)
    check(read_fault_all(ro, r.size) == 0, "the hole reads zero")
    for rnd in range(1, 4):
        for i in range(PAGES):
            r.pwrite_word(i * PAGE + 8 * rnd, rnd * 0x100 + i)
        bad = [i for i in range(PAGES) if word(ro, i * PAGE + 8 * rnd) != rnd * 0x100 + i]
        check(not bad, f"round {rnd}: pages {bad[:8]} stale")
        punch_hole(r.fd, 0, r.size)
        check(read_fault_all(ro, r.size) == 0, f"round {rnd}: punched file reads zero")


if __name__ == "__main__":
    sys.exit(
        run(
            [
                (sees_file_changes_until_write, PRIVATE),
                (private_write_stays_private, PRIVATE),
                (private_cow_survives_fill, PRIVATE),
                (private_cow_survives_punch, PRIVATE),
                (private_ro_mapping_follows_file, PRIVATE),
            ]
        )
    )
