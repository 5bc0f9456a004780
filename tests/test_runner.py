"""The guest runner, run for real on this host (no VM): KTAP nesting, timeouts, crashes, missing programs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from farm import boot, ktap
from farm.matrix import Runtime


def script(tmp_path: Path, name: str, body: str) -> boot.GuestTest:
    path = tmp_path / f"{name}.py"
    path.write_text(body)
    return boot.GuestTest(name, (sys.executable, path.name), (path,), 3.0)


def test_runner_nests_output_kills_hung_tests_and_reports_crashes(tmp_path: Path) -> None:
    tests = [
        script(tmp_path, "good", "print('KTAP version 1\\n1..2\\nok 1 a\\n# metric: kb=4\\nok 2 b # SKIP no THP')"),
        script(
            tmp_path, "hangs", "import time\nprint('KTAP version 1\\n1..2\\nok 1 first', flush=True)\ntime.sleep(60)"
        ),
        script(tmp_path, "crashes", "import os\nprint('KTAP version 1\\n1..1', flush=True)\nos.abort()"),
        boot.GuestTest("missing", ("./not-there",), (), 3.0),
    ]
    share = tmp_path / "share"
    boot.prepare_share(share, Runtime("default"), tests, vm=False)  # root here: it must unmount
    done = subprocess.run([sys.executable, "-S", str(share / "runner.py")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (share / "done").is_file()
    assert (share / "dmesg.txt").is_file()
    assert "/run/zpfarm/" not in Path("/proc/mounts").read_text()  # unmounted again
    root = ktap.parse((share / "results.ktap").read_text())
    top = {n.name: n for n in root.children}
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
