#!/usr/bin/env python3
"""Record the guest corpus: real boots of a real kernel, one per way a boot can end.

    .venv/bin/python tests/data/guest/record.py [SCENARIO...]

Each scenario is a few guest programs (testcases-style Python scripts) run by
the farm's own stages (farm.stages.LocalStages: the cell's kernel as built in
the cache, the real runner, virtme-ng) in the cell base-x86_64-thp-off. What a
boot leaves is saved in tests/data/guest/<scenario>/: results.ktap, console.log
and booted.json (how the boot ended, the programs planned). test_verdict.py
judges them and compares with expected.json, written by hand after reading the
console.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from farm import pipeline  # noqa: E402
from farm.host.cache import Cache, default_root  # noqa: E402
from farm.model import matrix  # noqa: E402
from farm.stages import GuestImage, LocalStages  # noqa: E402

CELL = "base-x86_64-thp-off"
GOOD = "print('KTAP version 1\\n1..2\\nok 1 first\\nok 2 second # SKIP no THP here')\n"
SCENARIOS: dict[str, dict[str, str]] = {
    "clean": {"a_good": GOOD, "b_good": GOOD},
    "test_timeout": {
        "a_hangs": "import time\nprint('KTAP version 1\\n1..2\\nok 1 before', flush=True)\ntime.sleep(3600)\n",
        "b_good": GOOD,
    },
    "signal": {
        "a_aborts": "import os\nprint('KTAP version 1\\n1..2\\nok 1 before', flush=True)\nos.abort()\n",
        "b_good": GOOD,
    },
    "panic_mid_program": {
        "a_good": GOOD,
        "b_panics": "print('KTAP version 1\\n1..3\\nok 1 before', flush=True)\n"
        "open('/proc/sysrq-trigger', 'w').write('c')\n",
        "c_never": GOOD,
    },
    "runner_never_finished": {
        "a_good": GOOD,
        "b_freezes_runner": "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\n",
        "c_never": GOOD,
    },
    "garbage": {
        "a_garbage": "print('hello\\n\\x1b[31mnot tap at all\\x07\\n' + ' ' * 20000 + 'ok')\n",
        "b_silent": "pass\n",
        "c_good": GOOD,
    },
    "killed_from_outside": {
        "a_good": GOOD,
        "b_slow": "import time\nprint('KTAP version 1\\n1..2\\nok 1 before', flush=True)\ntime.sleep(600)\n",
    },
}
KILL_AFTER_S = {"killed_from_outside": "b_slow"}  # kill qemu once this program has begun


def record(name: str, programs: dict[str, str], cache: Cache) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tests = Path(tmp) / "testcases"
        tests.mkdir()
        (tests / "expectations.toml").write_text("")
        for prog, body in programs.items():
            (tests / f"{prog}.py").write_text(textwrap.dedent(body))
        base = matrix.load(ROOT / "matrix.toml")
        cells = base.select([f"{CELL}/default"])
        guest = dataclasses.replace(base.guest, test_timeout=20)
        m = dataclasses.replace(base, testcases_dir=tests, guest=guest, cells=cells)
        out = Path(tmp) / "out"
        opts = pipeline.options(m, cells, cache, out, out / "junit.xml", selftests=False)
        stages = LocalStages(opts, print, lambda cell, line: None)
        (cell,) = cells
        tree = stages.prepare_trees({cell.kernel})[cell.kernel]
        assert not isinstance(tree, Exception), tree
        built = stages.build(cell, tree, print).built
        assert built.ok and built.image is not None, built.message
        programs_ = stages.guest_programs(cell.arch)
        where = out / cell.name / "default"
        if name in KILL_AFTER_S:
            threading.Thread(
                target=_kill_qemu_when, args=(where / "console.log", KILL_AFTER_S[name]), daemon=True
            ).start()
        booted = stages.boot(
            cell, cell.runtimes[0], GuestImage(built.image, programs_.runner, None), programs_.tests, where
        )
        dest = HERE / name
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir()
        (dest / "results.ktap").write_text(booted.ktap)
        shutil.copy(booted.console, dest / "console.log")
        facts = {
            "returncode": booted.returncode,
            "elapsed": round(booted.elapsed, 1),
            "timed_out": booted.timed_out,
            "finished": booted.finished,
            "accel": booted.accel,
            "planned": [t.name for t in programs_.tests],
        }
        (dest / "booted.json").write_text(json.dumps(facts, indent=2) + "\n")
        print(f"{name}: {facts}")


def _kill_qemu_when(console: Path, program: str) -> None:
    """Kill qemu from outside (as an OOM killer or an operator would) once program has begun."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if console.is_file() and f"zpfarm: begin {program}" in console.read_text(errors="replace"):
            time.sleep(2)
            subprocess.run(["pkill", "-KILL", "-f", "qemu-system-x86_64"], check=False)
            return
        time.sleep(0.5)


def main() -> None:
    cache = Cache(default_root())
    for name in sys.argv[1:] or list(SCENARIOS):
        record(name, SCENARIOS[name], cache)


if __name__ == "__main__":
    main()
