"""The one place that starts processes.

Every command the farm runs goes through run(): argv lists only (never a
shell), cwd= instead of chdir, output streamed line by line to a log file and
an optional callback, a timeout that kills the whole process group, and a
Completed value back. A non-zero exit is data, not an exception; only a
missing executable raises (InfraError), because then nothing ran at all.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from farm.model.errors import InfraError

LineSink = Callable[[str], None]

# How long a process group gets between SIGTERM and SIGKILL.
_KILL_GRACE_S = 5.0
# Every process run() is waiting for, in any thread: stop_all() ends them.
_running: set[subprocess.Popen[bytes]] = set()
_running_lock = threading.Lock()
# Set by stop_all(): a run that is stopping starts nothing new in any thread.
_stopping = threading.Event()


@dataclass(frozen=True)
class Completed:
    """What a finished (or killed) command left behind."""

    argv: tuple[str, ...]
    returncode: int
    elapsed: float
    timed_out: bool
    output: str  # everything it printed (stdout and stderr merged)
    log: Path | None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, lines: int = 3) -> str:
        """The last non-blank lines of output on one line: what an error message quotes."""
        return " | ".join([line.strip() for line in self.output.splitlines() if line.strip()][-lines:])


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=_KILL_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    timeout: float | None = None,
    on_line: LineSink | None = None,
    stdin: Path | None = None,
) -> Completed:
    """Run argv to completion (or timeout) and return what happened.

    env is added to the current environment. The log file, when given, is
    rewritten and starts with the command line. stdin: a file the command
    reads (`git patch-id` reads its patch there); otherwise /dev/null.
    """
    argv = tuple(str(a) for a in argv)
    if _stopping.is_set():
        raise InfraError(f"{argv[0]}: not started, the run is stopping")
    full_env = {**os.environ, **env} if env else None
    start = time.monotonic()
    source = stdin.open("rb") if stdin else None
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=full_env,
            stdin=source or subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we kill it whole
        )
    except FileNotFoundError as e:
        raise InfraError(f"{argv[0]}: command not found (run `zpfarm doctor`)") from e
    finally:
        if source:
            source.close()  # the child has its own copy

    with _running_lock:
        _running.add(proc)
    if _stopping.is_set():  # stop_all() ran between the check above and here: it may have missed this one
        _kill_group(proc)
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        _kill_group(proc)

    timer = threading.Timer(timeout, expire) if timeout else None
    chunks: list[str] = []
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    logf = log.open("w", encoding="utf-8", errors="replace") if log else None
    try:
        if logf:
            logf.write(f"$ {shlex.join(argv)}\n")
            logf.flush()
        if timer:
            timer.start()
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace")
            chunks.append(line)
            if logf:
                logf.write(line)
                logf.flush()
            if on_line:
                on_line(line.rstrip("\n"))
        proc.wait()
    except BaseException:
        # Ctrl-C or a failing callback: never leave the child running.
        _kill_group(proc)
        raise
    finally:
        with _running_lock:
            _running.discard(proc)
        if timer:
            timer.cancel()
        if logf:
            logf.close()
    return Completed(
        argv=argv,
        returncode=proc.returncode,
        elapsed=time.monotonic() - start,
        timed_out=timed_out.is_set(),
        output="".join(chunks),
        log=log,
    )


def stop_all() -> None:
    """Kill every command still running, in every thread, and start no new one (Ctrl-C, SIGTERM).

    allow_new() lifts the ban, for the next run in the same process.
    """
    _stopping.set()
    with _running_lock:
        procs = list(_running)
    for proc in procs:
        _kill_group(proc)


def allow_new() -> None:
    _stopping.clear()


def capture(argv: Sequence[str], *, cwd: Path | None = None) -> str:
    """Run a short query command and return its stdout; raise if it fails.

    For questions whose failure is a bug or a broken host (git rev-parse,
    make kernelrelease), not for the work the farm reports on.
    """
    done = run(argv, cwd=cwd, timeout=300)
    if not done.ok:
        raise InfraError(f"{shlex.join(done.argv)} failed ({done.returncode}): {done.tail(3)}")
    return done.output


class LocalHost:
    """This machine, behind the interface of remote.SshHost (run, stage, get)."""

    def __enter__(self) -> LocalHost:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def run(
        self,
        argv: Sequence[str],
        *,
        log: Path | None = None,
        timeout: float | None = None,
        on_line: LineSink | None = None,
    ) -> Completed:
        return run(argv, log=log, timeout=timeout, on_line=on_line)

    def stage(self, local: Path) -> PurePosixPath:
        """Where the directory local is on this host: where it already is."""
        return PurePosixPath(local.resolve())

    def get(self, remote: PurePosixPath, local: Path) -> bool:
        """Copy a file here; False when it does not exist."""
        if not Path(remote).is_file():
            return False
        if Path(remote).resolve() != local.resolve():
            shutil.copyfile(remote, local)
        return True
