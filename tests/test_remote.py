"""farm/remote.py against a real sshd on 127.0.0.1 (its own config, keys and port)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest

from farm.host.remote import SshHost, Target
from farm.model.errors import InfraError, UserError

SSHD = Path("/usr/sbin/sshd")  # Debian's openssh-server, installed by install.sh


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sshd:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        for name in ("host", "client"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", root / name], check=True)
        (root / "authorized_keys").write_text((root / "client.pub").read_text())
        host_pub = (root / "host.pub").read_text().split()
        (root / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n")
        (root / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {root / 'host'}\n"
            f"AuthorizedKeysFile {root / 'authorized_keys'}\nPidFile {root / 'sshd.pid'}\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\nUsePAM no\nStrictModes no\n"
            "Subsystem sftp internal-sftp\n"
        )
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", root / "sshd_config"], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("sshd did not start")

    def host(self, known_hosts: Path | None = None) -> SshHost:
        target = Target("127.0.0.1", "root", self.port)
        return SshHost(target, key=self.root / "client", known_hosts=known_hosts or self.root / "known_hosts")


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    assert SSHD.is_file(), "openssh-server is missing: run ./install.sh"
    server = Sshd(tmp_path)
    yield server
    server.proc.terminate()
    server.proc.wait()


def test_run_streams_output_and_returns_the_exit_code(sshd: Sshd, tmp_path: Path) -> None:
    lines: list[str] = []
    with sshd.host() as host:
        done = host.run(
            ["sh", "-c", "echo 'out put'; echo err >&2; exit 3"], log=tmp_path / "r.log", on_line=lines.append
        )
    assert done.returncode == 3 and not done.ok and not done.timed_out
    assert lines == ["out put", "err"]
    assert "out put" in (tmp_path / "r.log").read_text()


def test_timeout_kills_the_remote_process_group(sshd: Sshd) -> None:
    marker = f"zpfarm-remote-test-sleeper-{os.getpid()}"  # another test run on the machine has its own
    with sshd.host() as host:
        sleeper = f"exec -a {marker} sleep 300"
        done = host.run(["bash", "-c", f"bash -c '{sleeper}' & {sleeper}"], timeout=1)
    assert done.timed_out and not done.ok
    deadline = time.monotonic() + 10  # the kill reaches the remote group at once; a loaded host takes a moment
    while (left := subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)).stdout:
        assert time.monotonic() < deadline, f"still running: {left.stdout}"
        time.sleep(0.2)


def test_put_and_get_a_directory(sshd: Sshd, tmp_path: Path) -> None:
    share = tmp_path / "share"
    share.mkdir()
    (share / "plan.txt").write_text("hi\n")
    (share / "prog").write_text("#!/bin/sh\necho prog\n")
    (share / "prog").chmod(0o755)
    remote = PurePosixPath(tmp_path / "remote")
    with sshd.host() as host:
        host.put(share, remote)
        assert host.run([str(remote / "prog")]).output == "prog\n"
        assert host.get(remote / "plan.txt", tmp_path / "back.txt")
        assert not host.get(remote / "missing", tmp_path / "missing")
    assert (tmp_path / "back.txt").read_text() == "hi\n"


def test_an_unknown_host_key_is_refused_naming_its_fingerprint(sshd: Sshd, tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(InfraError, match=r"host key ssh-ed25519 SHA256:\S+ is not in known_hosts"):
        sshd.host(known_hosts=empty)
    assert empty.read_text() == ""  # never added silently


def test_accept_new_host_key_records_it_once(sshd: Sshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    target = Target("127.0.0.1", "root", sshd.port)
    with SshHost(target, key=sshd.root / "client", known_hosts=known, accept_new=True) as host:
        assert host.run(["true"]).ok
    assert known.read_text().startswith(f"[127.0.0.1]:{sshd.port} ssh-ed25519 ")
    with SshHost(target, key=sshd.root / "client", known_hosts=known) as host:  # now known: no flag needed
        assert host.run(["true"]).ok


@pytest.mark.parametrize(
    ("text", "target"),
    [("box", Target("box")), ("me@box:2222", Target("box", "me", 2222)), ("10.0.0.2:22", Target("10.0.0.2"))],
)
def test_target_parse(text: str, target: Target) -> None:
    assert Target.parse(text) == target


def test_target_parse_rejects_garbage() -> None:
    with pytest.raises(UserError, match="expected \\[USER@\\]HOST\\[:PORT\\]"):
        Target.parse("a@b@c")


def test_host_test_over_ssh_runs_the_tests_there(sshd: Sshd, tmp_path: Path) -> None:
    """`zpfarm host-test --ssh`: keys and known_hosts from ~/.ssh, as a user has them."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    for src, dst in (("client", "id_ed25519"), ("known_hosts", "known_hosts")):
        (home / ".ssh" / dst).write_text((sshd.root / src).read_text())
    (home / ".ssh" / "id_ed25519").chmod(0o600)
    env = {**os.environ, "HOME": str(home), "ZPFARM_CACHE": str(tmp_path / "cache")}
    argv = [str(Path(sys.executable).parent / "zpfarm"), "host-test", "-t", "private", "--kernel", "series"]
    argv += ["--ssh", f"root@127.0.0.1:{sshd.port}", "--results", str(tmp_path / "out")]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "root@127.0.0.1" in done.stdout and "private.private_cow_survives_punch" in done.stdout
    command = (tmp_path / "out" / "runner.log").read_text().splitlines()[0]
    runner = Path(command.split()[-1])  # $ ssh root@127.0.0.1:PORT /tmp/zpfarm.XXXXXX/share/runner
    assert runner.name == "runner" and runner.parent.parent.name.startswith("zpfarm.")
    assert not runner.parent.parent.exists(), "the staged copy was not removed"


def test_a_port_that_never_speaks_ssh_is_one_line_without_paramikos_traceback(
    capfd: pytest.CaptureFixture[str],
) -> None:
    import socket

    from farm.host.remote import SshHost, Target
    from farm.model.errors import InfraError

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(InfraError, match=f"ssh root@127.0.0.1:{port}: "):
            SshHost(Target("127.0.0.1", "root", port), connect_timeout=1)
    time.sleep(0.5)  # the transport thread's last words, if it had any, would be out by now
    assert "Traceback" not in capfd.readouterr().err
