#!/usr/bin/env python3
"""gcov in the guest of a coverage cell: zero the counters first, copy them out last.

Guest side, standard library only (the arm64 guest has python3-minimal).
  gcov_collect.py reset      zeroes every counter (/sys/kernel/debug/gcov/reset): what the
                             boot ran before the first program does not count
  gcov_collect.py copy DIR   copies every .gcda under /sys/kernel/debug/gcov to DIR (beside this
                             file, in the share), keeping its path under the gcov directory
One TAP result each; a step that cannot be done is "not ok" with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys

DEBUGFS = "/sys/kernel/debug"
GCOV = DEBUGFS + "/gcov"


def mount_debugfs() -> str:
    """ "" when debugfs is there (mounted here if it was not), else why not."""
    if os.path.isdir(GCOV):
        return ""
    done = subprocess.run(["mount", "-t", "debugfs", "debugfs", DEBUGFS], capture_output=True, text=True, check=False)
    if os.path.isdir(GCOV):
        return ""
    return f"no {GCOV} (CONFIG_GCOV_KERNEL, debugfs): {done.stderr.strip()}"


def copy(dest: str) -> int:
    """The number of .gcda files copied (read whole: debugfs reports no size)."""
    count = 0
    for top, _dirs, names in os.walk(GCOV):
        for name in names:
            if not name.endswith(".gcda"):
                continue
            source = os.path.join(top, name)
            target = os.path.join(dest, os.path.relpath(source, GCOV))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(source, "rb") as f:
                data = f.read()
            with open(target, "wb") as f:
                f.write(data)
            count += 1
    return count


def main(argv: list[str]) -> int:
    print("TAP version 13\n1..1", flush=True)
    step = argv[1] if len(argv) > 1 else ""
    why = mount_debugfs()
    try:
        if why:
            pass
        elif step == "reset":
            with open(GCOV + "/reset", "w") as f:
                f.write("1")
            print("ok 1 gcov reset", flush=True)
            return 0
        elif step == "copy" and len(argv) == 3:
            count = copy(argv[2])
            print(f"# {count} .gcda files copied to {argv[2]}")
            if count:
                print("ok 1 gcov copy", flush=True)
                return 0
            why = "no .gcda file under " + GCOV
        else:
            why = f"usage: {argv[0]} reset | copy DIR"
    except OSError as e:
        why = str(e)
    print(f"# {why}\nnot ok 1 gcov {step}", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
