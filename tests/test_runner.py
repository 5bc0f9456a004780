"""The guest runner, run for real on this host (no VM): KTAP nesting, timeouts, crashes, missing programs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from farm.guest import runner
from farm.judge import ktap
from farm.model import arches
from farm.model.matrix import Runtime
from farm.model.programs import GuestTest
from farm.vm import boot

UNSHARE = shutil.which("unshare") or "unshare"  # util-linux: on every Debian


def script(tmp_path: Path, name: str, body: str) -> GuestTest:
    path = tmp_path / f"{name}.py"
    path.write_text(body)
    return GuestTest(name, (sys.executable, path.name), (path,), 3.0)


def run_runner(tmp_path: Path, tests: list[GuestTest], runtime: Runtime | None = None) -> dict[str, ktap.KtapNode]:
    """Build the runner for this host, run the tests with it as root, return its top-level results."""
    marker = GuestTest(f"kmsg-{uuid.uuid4().hex}", ("true",), (), 3.0)
    tests = [*tests, marker]
    share = tmp_path / "share"
    binary = runner.build(arches.for_machine(os.uname().machine), tmp_path / "runner", tmp_path / "runner.log")
    boot.prepare_share(share, binary, runtime or Runtime("default"), tests, vm=False)  # root here: it must unmount
    # In a mount namespace of its own, so that what it leaves mounted is its own, not another run's.
    leftover = 'rc=0; "$0" || rc=$?; grep " /run/zpfarm/" /proc/self/mounts >&2 && echo LEFT-MOUNTED >&2; exit $rc'
    argv = [UNSHARE, "--mount", "--propagation", "private", "--", "sh", "-c", leftover, str(share / runner.NAME)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "LEFT-MOUNTED" not in done.stderr, done.stderr  # the runner unmounted its tmpfs again
    assert (share / "done").is_file()
    # Each program is bracketed in the kernel log, for the console scanner (a fresh name: the
    # kernel log keeps earlier runs').
    kernel_log = (share / "dmesg.txt").read_text()
    assert f"zpfarm: begin {marker.name}\n" in kernel_log and f"zpfarm: end {marker.name}\n" in kernel_log
    top = {n.name: n for n in ktap.parse((share / "results.ktap").read_text()).children}
    assert top.pop(marker.name).status is ktap.KtapStatus.OK
    return top


def test_runner_nests_output_kills_hung_tests_and_reports_crashes(tmp_path: Path) -> None:
    tests = [
        script(tmp_path, "good", "print('KTAP version 1\\n1..2\\nok 1 a\\n# metric: kb=4\\nok 2 b # SKIP no THP')"),
        script(
            tmp_path, "hangs", "import time\nprint('KTAP version 1\\n1..2\\nok 1 first', flush=True)\ntime.sleep(60)"
        ),
        script(tmp_path, "crashes", "import os\nprint('KTAP version 1\\n1..1', flush=True)\nos.abort()"),
        GuestTest("missing", ("./not-there",), (), 3.0),
    ]
    top = run_runner(tmp_path, tests)
    assert list(top) == ["runtime", "good", "hangs", "crashes", "missing"]
    assert top["good"].status is ktap.KtapStatus.OK
    assert [c.status for c in top["good"].children] == [ktap.KtapStatus.OK, ktap.KtapStatus.SKIP]
    assert top["good"].children[1].metrics == {"kb": 4.0}  # a diagnostic belongs to the next result
    assert top["hangs"].status is ktap.KtapStatus.NOT_OK
    assert top["hangs"].directive.startswith("TIMEOUT")
    assert top["hangs"].children[0].status is ktap.KtapStatus.OK  # printed before the hang: kept
    assert top["crashes"].status is ktap.KtapStatus.NOT_OK
    assert "signal 6" in top["crashes"].directive
    assert top["missing"].status is ktap.KtapStatus.NOT_OK
    assert top["missing"].directive == "ERROR cannot start"


def test_runner_passes_arguments_exactly_and_reports_stderr_and_sysfs_failures(tmp_path: Path) -> None:
    odd = ["a\tb", "", "back\\slash\nnew line", "  spaced  "]
    check = (
        "import os, sys\n"
        f"ok = sys.argv[1:] == {odd!r} and os.environ.get('ZPFARM_TMPFS') == '/run/zpfarm/tmpfs'\n"
        "print('KTAP version 1\\n1..1\\n' + ('ok' if ok else 'not ok') + ' 1 argv')\n"
        "print('\\n'.join(f'line {i}' for i in range(9)), file=sys.stderr)"
    )
    tests = [GuestTest("args", (sys.executable, "-c", check, *odd), (), 10.0)]
    top = run_runner(tmp_path, tests, Runtime("bad", sysfs=(("kernel/mm/zpfarm-no-such-knob", "1"),)))
    assert top["runtime"].status is ktap.KtapStatus.NOT_OK
    assert any("cannot set /sys/kernel/mm/zpfarm-no-such-knob = 1" in line for line in top["runtime"].log)
    assert top["args"].children[0].status is ktap.KtapStatus.OK
    stderr = [line for line in top["args"].log if "stderr:" in line]
    assert [line.split("stderr: ")[1] for line in stderr] == [f"line {i}" for i in range(4, 9)]


def test_runner_does_not_wait_for_orphans_and_kills_them_before_the_next_program(tmp_path: Path) -> None:
    pidfile = tmp_path / "orphan.pid"
    leaves_orphan = (
        "import os, subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"  # inherits stdout
        f"open({str(pidfile)!r}, 'w').write(str(child.pid))\n"
        "print('KTAP version 1\\n1..1\\nok 1 parent', flush=True)\n"
    )
    tests = [GuestTest("orphan", (sys.executable, "-c", leaves_orphan), (), 60.0)]
    started = time.monotonic()
    top = run_runner(tmp_path, tests)
    assert time.monotonic() - started < 20  # not the program's 60 s timeout
    assert top["orphan"].status is ktap.KtapStatus.OK
    assert top["orphan"].children[0].name == "parent"
    orphan = int(pidfile.read_text())
    assert not Path(f"/proc/{orphan}").exists() or "Z" in Path(f"/proc/{orphan}/stat").read_text().split()[2]


def test_a_setsid_daemon_a_program_started_is_gone_before_the_next_program(tmp_path: Path) -> None:
    """A double-forked daemon in a session of its own escaped the process-group kill."""
    pidfile, seen = tmp_path / "daemon.pid", tmp_path / "seen"
    daemonizes = (
        "import os, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        open({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
        "        time.sleep(120)\n"
        "    os._exit(0)\n"
        "time.sleep(1)\n"
        "print('KTAP version 1\\n1..1\\nok 1 started', flush=True)\n"
    )
    looks = (
        "import os, sys\n"
        f"pid = open({str(pidfile)!r}).read()\n"
        "alive = os.path.exists(f'/proc/{pid}') and open(f'/proc/{pid}/stat').read().split()[2] != 'Z'\n"
        f"open({str(seen)!r}, 'w').write(str(alive))\n"
        'print(f\'KTAP version 1\\n1..1\\n{"not ok" if alive else "ok"} 1 daemon_gone\', flush=True)\n'
    )
    tests = [
        GuestTest("daemon", (sys.executable, "-c", daemonizes), (), 30.0),
        GuestTest("after", (sys.executable, "-c", looks), (), 30.0),
    ]
    top = run_runner(tmp_path, tests)
    assert seen.read_text() == "False", "the daemon outlived its program"
    assert top["after"].status is ktap.KtapStatus.OK


def test_each_program_starts_on_an_empty_tmpfs(tmp_path: Path) -> None:
    fills = "import os\nopen(os.environ['ZPFARM_TMPFS'] + '/left-behind', 'w').write('x')\nprint('1..0 # SKIP')"
    looks = (
        "import os\nleft = os.listdir(os.environ['ZPFARM_TMPFS'])\n"
        "print('KTAP version 1\\n1..1\\n' + ('not ok' if left else 'ok') + ' 1 empty')"
    )
    tests = [
        GuestTest("fills", (sys.executable, "-c", fills), (), 10.0),
        GuestTest("looks", (sys.executable, "-c", looks), (), 10.0),
    ]
    top = run_runner(tmp_path, tests)
    assert top["looks"].children[0].status is ktap.KtapStatus.OK
