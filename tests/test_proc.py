"""farm/proc.py: the one seam that runs commands, on real processes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from farm.host import proc


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    done = proc.run(["sh", "-c", "sleep 60 & sleep 60"], timeout=1, log=tmp_path / "log")
    assert done.timed_out and not done.ok and done.elapsed < 30
    assert (tmp_path / "log").read_text().startswith("$ sh -c")


def test_stop_all_ends_a_command_running_in_another_thread() -> None:
    """Ctrl-C in the main thread must not leave the builder thread's make running."""
    result: list[proc.Completed] = []
    worker = threading.Thread(target=lambda: result.append(proc.run(["sleep", "60"])))
    worker.start()
    time.sleep(0.5)
    started = time.monotonic()
    proc.stop_all()
    worker.join(timeout=30)
    assert not worker.is_alive() and time.monotonic() - started < 15
    assert result and result[0].returncode != 0
