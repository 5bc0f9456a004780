"""Booting through vng (farm.vm.boot), with the fake vng of tests/fakevng that $ZPFARM_VNG chooses.

The argv boot.py makes is what the fake parses (it refuses unknown flags as vng does); the guest
runner runs for real from the share directory; the verdicts of a panic and a hang are the farm's.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import junitparser
import kernels
import pytest
from conftest import FakeFarm

from farm.model.errors import UserError
from farm.vm import boot

RUN = ("--accel", "tcg", "--no-selftests", "--quiet", "--cell", "series-*")


def _only_suite(junit: Path) -> dict[str, junitparser.TestCase]:
    (suite,) = junitparser.JUnitXml.fromfile(str(junit))
    return {c.name: c for c in suite}


def test_zpfarm_vng_chooses_the_vng_and_must_be_a_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZPFARM_VNG", str(kernels.FAKEVNG))
    assert boot.vng() == str(kernels.FAKEVNG)
    plain = tmp_path / "vng"
    plain.write_text("#!/bin/sh\n")
    for bad in (plain, tmp_path / "missing", tmp_path):
        monkeypatch.setenv("ZPFARM_VNG", str(bad))
        with pytest.raises(UserError, match=r"ZPFARM_VNG=.*not an executable file"):
            boot.vng()
    plain.chmod(plain.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("ZPFARM_VNG", str(plain))
    assert boot.vng() == str(plain)


def test_a_bad_zpfarm_vng_is_exit_2_before_any_build(fakefarm: FakeFarm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZPFARM_VNG", str(fakefarm.root / "no-vng"))
    result = fakefarm.zpfarm("run", "--results", fakefarm.root / "out", *RUN)
    assert result.exit_code == 2, result.output
    assert "not an executable file" in result.output
    assert not (fakefarm.cache / "build").exists()


def test_a_kernel_panic_is_a_crash_not_a_pass(fakefarm: FakeFarm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PANIC", "1")
    out = fakefarm.root / "out"
    result = fakefarm.zpfarm("run", "--results", out, *RUN)
    assert result.exit_code == 1, result.output
    cases = _only_suite(out / "junit.xml")
    crash = cases["boot"].result[0]
    assert isinstance(crash, junitparser.Error) and crash.type == "crash"
    assert "panic" in crash.message
    assert "Kernel panic - not syncing" in (out / "series-x86_64-shmem" / "default" / "console.log").read_text()


def test_a_hung_guest_is_killed_at_the_timeout_and_reported_as_hung(
    fakefarm: FakeFarm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANG", "1")
    text = fakefarm.matrix.read_text().replace("test_timeout = 10", "test_timeout = 1")
    fakefarm.matrix.write_text(text.replace("boot_timeout = 2", "boot_timeout = 1"))
    out = fakefarm.root / "out"
    started = time.monotonic()
    result = fakefarm.zpfarm("run", "--results", out, *RUN)
    assert time.monotonic() - started < 30
    assert result.exit_code == 1, result.output
    hung = _only_suite(out / "junit.xml")["boot"].result[0]
    assert hung.type == "crash" and hung.message.startswith("guest hung: killed after 2 s")
    leftovers = [p for p in os.listdir("/proc") if p.isdigit() and _is_fake_vng(p, fakefarm.root)]
    assert leftovers == []  # the whole process group went


def _is_fake_vng(pid: str, root: Path) -> bool:
    try:
        return str(root) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
