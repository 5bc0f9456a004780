"""Commands on another machine over SSH (paramiko), with proc.run's contract.

SshHost.run() returns the same Completed as proc.run(): output streamed line
by line to a log and a callback, a timeout after which the remote command is
killed (the channel is closed and its process group signalled), a non-zero
exit as data. put()/get() copy files with SFTP. Host keys are checked against
~/.ssh/known_hosts: an unknown host is refused with its key's fingerprint,
never silently trusted; accept_new (--accept-new-host-key) records it there.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import shlex
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import paramiko

from farm.host.proc import Completed, LineSink
from farm.model.errors import InfraError, UserError

_PGID = "zpfarm-pgid"
LOGIN_TIMEOUT_S = 120.0
_TARGET = re.compile(r"(?:(?P<user>[^@:\s]+)@)?(?P<host>[^@:\s]+)(?::(?P<port>\d+))?")


@dataclass(frozen=True)
class Target:
    """USER@HOST[:PORT], as ssh(1) users write it."""

    host: str
    user: str = "root"
    port: int = 22

    @classmethod
    def parse(cls, text: str) -> Target:
        m = _TARGET.fullmatch(text)
        if not m:
            raise UserError(f"--ssh {text!r}: expected [USER@]HOST[:PORT]")
        port = int(m["port"] or 22)
        if not 1 <= port <= 65535:
            raise UserError(f"--ssh {text!r}: port {port} is not in 1..65535")
        return cls(m["host"], m["user"] or "root", port)

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def fingerprint(key: paramiko.PKey) -> str:
    """The key's fingerprint as ssh-keygen -l prints it: SHA256:base64."""
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


class _Refuse(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]  # paramiko is untyped
    """An unknown host is refused, naming the key it offered (compare it out of band)."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise InfraError(
            f"ssh {hostname}: host key {key.get_name()} {fingerprint(key)} is not in known_hosts; check it, "
            "then add it with ssh-keyscan or pass --accept-new-host-key"
        )


class _Record(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]  # paramiko is untyped
    """--accept-new-host-key: trust an unknown host's key once, and record it in known_hosts."""

    def __init__(self, known_hosts: Path) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        self.known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self.known_hosts.open("a") as f:
            f.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
        client.get_host_keys().add(hostname, key.get_name(), key)


class SshHost:
    """One SSH connection; use as a context manager."""

    def __init__(
        self,
        target: Target,
        key: Path | None = None,
        known_hosts: Path | None = None,
        *,
        accept_new: bool = False,
        connect_timeout: float = 30.0,
    ) -> None:
        # paramiko's transport thread logs what it raises; with no handler configured Python prints
        # each as a traceback on stderr, before the one line the InfraError below gives.
        quiet = logging.getLogger("paramiko")
        if not any(isinstance(h, logging.NullHandler) for h in quiet.handlers):
            quiet.addHandler(logging.NullHandler())
        self.target = target
        self.staged: list[PurePosixPath] = []
        self.client = paramiko.SSHClient()
        known = known_hosts or Path.home() / ".ssh" / "known_hosts"
        if known.is_file():
            self.client.load_host_keys(str(known))
        self.client.set_missing_host_key_policy(_Record(known) if accept_new else _Refuse())
        try:
            self.client.connect(
                target.host,
                port=target.port,
                username=target.user,
                key_filename=str(key) if key else None,
                timeout=connect_timeout,
                banner_timeout=connect_timeout,
                auth_timeout=connect_timeout,
            )
        except paramiko.SSHException as e:
            raise InfraError(f"ssh {target}: {e}") from e
        except OSError as e:
            raise InfraError(f"ssh {target}: {e.strerror or e}") from e

    def __enter__(self) -> SshHost:
        return self

    def __exit__(self, *exc: object) -> None:
        for staged in self.staged:
            self.run(["rm", "-rf", str(staged)])
        self.client.close()

    def stage(self, local: Path) -> PurePosixPath:
        """A copy of the directory local on the host (in a temporary directory removed on exit)."""
        made = self.run(["mktemp", "-d", "/tmp/zpfarm.XXXXXX"])
        if not made.ok:
            raise InfraError(f"ssh {self.target}: mktemp failed: {made.tail(1)}")
        tmp = PurePosixPath(made.output.strip())
        self.staged.append(tmp)
        self.put(local, tmp / local.name)
        return tmp / local.name

    def run(
        self,
        argv: Sequence[str],
        *,
        log: Path | None = None,
        timeout: float | None = None,
        on_line: LineSink | None = None,
    ) -> Completed:
        """Run argv remotely (quoted, in its own process group) and wait, like proc.run()."""
        argv = tuple(str(a) for a in argv)
        # Its own process group, whose id comes first: a timeout kills the whole group.
        command = f"exec setsid -w sh -c 'echo {_PGID} $$; exec \"$@\"' zpfarm {shlex.join(argv)}"
        start = time.monotonic()
        transport = self.client.get_transport()
        if transport is None:
            raise InfraError(f"ssh {self.target}: not connected")
        channel = transport.open_session()
        channel.set_combine_stderr(True)
        channel.exec_command(command)
        timed_out = threading.Event()

        def expire() -> None:
            timed_out.set()
            channel.close()

        # The timeout starts with the command; logging in (a slow .bashrc) has its own limit.
        timer = threading.Timer(LOGIN_TIMEOUT_S, expire)
        chunks: list[str] = []
        pgid = 0
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w", encoding="utf-8") if log else open(os.devnull, "w") as logf:
            logf.write(f"$ ssh {self.target} {shlex.join(argv)}\n")
            timer.start()
            try:
                for raw in channel.makefile("rb"):
                    line = raw.decode("utf-8", errors="replace")
                    if not pgid:  # the remote shell's start-up chatter (a .bashrc), then the group id
                        if line.startswith(_PGID):
                            pgid = int(line.split()[1])
                            timer.cancel()
                            if timeout:
                                timer = threading.Timer(timeout, expire)
                                timer.start()
                        else:
                            logf.write(f"# login: {line}")
                        continue
                    chunks.append(line)
                    logf.write(line)
                    logf.flush()
                    if on_line:
                        on_line(line.rstrip("\n"))
            except OSError:
                if not timed_out.is_set():
                    raise
            finally:
                timer.cancel()
        code = -9 if timed_out.is_set() else channel.recv_exit_status()
        if timed_out.is_set() and pgid:
            _, out, _ = self.client.exec_command(f"kill -KILL -- -{pgid}")
            out.channel.recv_exit_status()
        return Completed(argv, code, time.monotonic() - start, timed_out.is_set(), "".join(chunks), log)

    def put(self, local: Path, remote: PurePosixPath) -> None:
        """Copy a file, or a directory's files (one level), to remote."""
        with self.client.open_sftp() as sftp:
            if local.is_dir():
                sftp.mkdir(str(remote))
                for f in sorted(p for p in local.iterdir() if p.is_file()):
                    sftp.put(str(f), str(remote / f.name))
                    sftp.chmod(str(remote / f.name), f.stat().st_mode & 0o777)
            else:
                sftp.put(str(local), str(remote))

    def get(self, remote: PurePosixPath, local: Path) -> bool:
        """Copy a remote file here; False when it does not exist."""
        with self.client.open_sftp() as sftp:
            try:
                sftp.get(str(remote), str(local))
            except FileNotFoundError:
                return False
        return True
