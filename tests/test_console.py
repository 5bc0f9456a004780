"""Tests for farm.console against real console logs in tests/data/console."""

from __future__ import annotations

from pathlib import Path

import pytest

from farm.judge.console import MAX_LINES, Splat, message, scan

DATA = Path(__file__).parent / "data" / "console"


def _scan(name: str) -> list[Splat]:
    return scan((DATA / name).read_text(errors="replace"))


# file -> [(kind, 1-based line, attributed program)]
CORPUS: dict[str, list[tuple[str, int, str | None]]] = {
    "x86_64-6.1-clean.log": [],
    "x86_64-6.1-warn.log": [
        ("WARNING", 386, "memory"),
        ("BUG", 433, "coherence"),  # NULL dereference; its "Oops:" line is the same report
        ("BUG", 499, "truncate"),  # "kernel BUG at ...!"
    ],
    "x86_64-6.1-softlockup.log": [("soft lockup", 384, "fork")],
    "x86_64-6.1-hung.log": [("hung task", 386, "uffd"), ("hung task", 415, "uffd")],
    "x86_64-6.1-mm.log": [
        # the mm of memory's process is freed late: the report lands inside coherence
        ("bad rss-counter", 384, "coherence"),
        ("bad page map", 385, "coherence"),
        ("bad rss-counter", 424, None),
    ],
    "x86_64-6.1-panic.log": [("panic", 386, "coherence")],
    "x86_64-6.1-rcustall.log": [
        ("RCU stall", 386, "mremap"),
        ("RCU stall", 431, "mremap"),
        ("RCU stall", 476, "mremap"),
        ("RCU stall", 521, "mremap"),
    ],
    "arm64-6.1-oops.log": [
        ("WARNING", 238, "memory"),
        ("Oops", 271, "coherence"),  # "Unable to handle kernel ..." then "Internal error: Oops"
        ("panic", 315, "coherence"),  # oops=panic: a second report
    ],
    "doc-kasan.log": [("KASAN", 2, None)],
    "doc-ubsan.log": [("UBSAN", 2, None)],
    "doc-lockdep-rcu.log": [("lockdep", 2, None)],
    "kunit-panic.log": [("panic", 21, None)],
}


def test_every_corpus_file_is_parametrized() -> None:
    assert sorted(p.name for p in DATA.glob("*.log")) == sorted(CORPUS)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus(name: str) -> None:
    splats = _scan(name)
    assert [(s.kind, s.line, s.test) for s in splats] == CORPUS[name]
    lines = (DATA / name).read_text(errors="replace").split("\n")
    for splat in splats:
        first = splat.excerpt.split("\n")[0]
        assert first == lines[splat.line - 1].rstrip("\r")
        assert "\r" not in splat.excerpt


def test_excerpts_end_at_their_markers() -> None:
    warning, null, bug = _scan("x86_64-6.1-warn.log")
    assert warning.excerpt.startswith("[    3.681437] WARNING: CPU: 0 PID: 1 at ")
    assert warning.excerpt.endswith("---[ end trace 0000000000000000 ]---")
    assert "Oops: 0000 [#1] PREEMPT SMP NOPTI" in null.excerpt
    assert null.excerpt.endswith("---[ end trace 0000000000000000 ]---")
    assert "invalid opcode: 0000 [#2]" in bug.excerpt
    (lockup,) = _scan("x86_64-6.1-softlockup.log")
    assert lockup.excerpt.endswith("</TASK>")
    assert "zpfarm:" not in lockup.excerpt
    rss = _scan("x86_64-6.1-mm.log")[0]
    assert rss.excerpt.count("\n") == 0  # a one-line report
    (kasan,) = _scan("doc-kasan.log")
    assert kasan.excerpt.endswith("=" * 66)
    assert len(kasan.excerpt.split("\n")) == 69


def test_real_arm64_oops_is_one_report() -> None:
    _, oops, panic = _scan("arm64-6.1-oops.log")
    assert "Internal error: Oops: 0000000096000006 [#1] SMP" in oops.excerpt
    assert oops.excerpt.endswith("---[ end trace 0000000000000000 ]---")
    assert panic.excerpt.startswith("[    3.373132] Kernel panic - not syncing: Oops: Fatal exception")


def test_panic_excerpt_keeps_dmesg_prefixes() -> None:
    (panic,) = _scan("x86_64-6.1-panic.log")
    assert panic.excerpt.startswith("[    5.643584] Kernel panic - not syncing: sysrq triggered crash")
    assert panic.excerpt.split("\n")[-1].startswith("[    5.645617] Kernel Offset:")


def test_report_without_end_marker_is_capped() -> None:
    body = "\n".join(f"[    1.{i:06d}] line {i}" for i in range(200))
    (splat,) = scan("[    1.000000] BUG: sleeping function called from invalid context\n" + body)
    assert splat.kind == "BUG"
    assert len(splat.excerpt.split("\n")) == MAX_LINES


NOT_REPORTS = [
    "[    0.000000] Kernel command line: console=ttyS0 panic=-1 oops=panic softlockup_panic=1",
    "[    0.120000] ACPI BIOS Warning (bug): Optional FADT field Pm2ControlBlock has valid Length",
    "[    0.300000] DEBUG_BUGVERBOSE enabled; DEBUGBUG: nothing",
    "[    0.400000] x86/cpu: SGX disabled by BIOS. WARNING: not a kernel warning format",
    "[    0.500000] usb 1-1: WARNING: device quirk",
    "[    1.000000] Run /init as init process",
    "# BUG: printed by a test to its stdout, indented",
    "[    2.000000] zpfarm: begin memory",
    "ok 1 read_hole # BUG: not at the start",
    "[    3.000000] ---[ end trace 0000000000000000 ]---",
    "[    4.000000] rcu: Hierarchical RCU implementation.",
    "[    5.000000] watchdog: Disabling watchdog on nohz_full cores by default",
]


@pytest.mark.parametrize("line", NOT_REPORTS)
def test_ordinary_lines_are_not_reports(line: str) -> None:
    assert scan(line + "\n") == []


INLINE = [  # (kind, header line as printed by the kernel's format strings)
    (
        "Oops",
        "[   12.000000] Unable to handle kernel NULL pointer dereference at virtual address 0000000000000008",
    ),
    ("Oops", "[   12.000000] Internal error: Oops: 0000000096000005 [#1] PREEMPT SMP"),
    (
        "Oops",
        "[   12.000000] general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP",
    ),
    ("hard lockup", "[   30.000000] NMI watchdog: Watchdog detected hard LOCKUP on cpu 1"),
    ("hard lockup", "[   30.000000] watchdog: Watchdog detected hard LOCKUP on cpu 1"),
    ("lockdep", "[    5.000000] WARNING: possible circular locking dependency detected"),
    ("lockdep", "[    5.000000] WARNING: possible recursive locking detected"),
    ("lockdep", "[    5.000000] WARNING: inconsistent lock state"),
    ("RCU stall", "[   60.000000] rcu: INFO: rcu_sched self-detected stall on CPU"),
    ("RCU stall", "[   60.000000] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:"),
    ("RCU stall", "[   60.000000] INFO: rcu_tasks detected stalls on tasks:"),
    (
        "soft lockup",
        "[   22.000000] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [memory:123]",
    ),
    ("hung task", "[  243.000000] INFO: task memory:123 blocked for more than 120 seconds."),
    ("KASAN", "[    9.000000] BUG: KASAN: use-after-free in shmem_fault+0x1/0x2"),
    ("WARNING", "[    9.000000] WARNING: CPU: 1 PID: 42 at mm/memory.c:1234 zap_pte_range+0x1/0x2"),
    (
        "WARNING",
        "[    9.000000][  T42] WARNING: mm/memory.c:1234 at zap_pte_range+0x1/0x2, CPU#1: memory/42",
    ),
    ("UBSAN", "[    9.000000] UBSAN: array-index-out-of-bounds in mm/shmem.c:99:5"),
    ("BUG", "[    9.000000] BUG: Bad page state in process memory  pfn:12345"),
    ("bad page map", "[    9.000000] BUG: Bad page map in process memory  pte:8000 pmd:1f1f"),
    (
        "bad rss-counter",
        "[    9.000000] BUG: Bad rss-counter state mm:000000004c27b24f type:MM_SHMEMPAGES val:-16",
    ),
    ("panic", "Kernel panic - not syncing: Fatal exception"),
]


@pytest.mark.parametrize(("kind", "line"), INLINE, ids=[f"{k}-{i}" for i, (k, _) in enumerate(INLINE)])
def test_header_forms(kind: str, line: str) -> None:
    console = f"[    1.000000] zpfarm: begin coherence\n{line}\n[    1.1] zpfarm: end coherence\n"
    (splat,) = scan(console)
    assert (splat.kind, splat.line, splat.test, splat.excerpt) == (kind, 2, "coherence", line)


def test_arm64_oops_is_one_report_then_a_panic() -> None:
    console = "\n".join(
        [
            "[   12.100000] zpfarm: begin memory",
            "[   12.200000] Unable to handle kernel NULL pointer dereference at virtual address 0000000000000008",
            "[   12.200001] Mem abort info:",
            "[   12.200002]   ESR = 0x0000000096000005",
            "[   12.200003] Internal error: Oops: 0000000096000005 [#1] PREEMPT SMP",
            "[   12.200004] Call trace:",
            "[   12.200005]  shmem_fault+0x20/0x1c0",
            "[   12.200006] ---[ end trace 0000000000000000 ]---",
            "[   12.200007] Kernel panic - not syncing: Oops: Fatal exception",
            "[   12.200008] ---[ end Kernel panic - not syncing: Oops: Fatal exception ]---",
        ]
    )
    oops, panic = scan(console)
    assert (oops.kind, oops.line, oops.test) == ("Oops", 2, "memory")
    assert oops.excerpt.count("\n") == 6
    assert (panic.kind, panic.line, panic.test) == ("panic", 9, "memory")
    assert panic.excerpt.endswith("]---")


def test_end_marker_clears_attribution_and_markers_cut_reports() -> None:
    console = (
        "zpfarm: begin a\nzpfarm: end a\nBUG: scheduling while atomic: a/1/0x2\n"
        "zpfarm: begin b\nWARNING: CPU: 0 PID: 1 at x.c:1 f+0x0/0x1\nmore\n"
    )
    first, second = scan(console)
    assert (first.test, first.excerpt) == (None, "BUG: scheduling while atomic: a/1/0x2")
    assert (second.test, second.line) == ("b", 5)
    assert second.excerpt == "WARNING: CPU: 0 PID: 1 at x.c:1 f+0x0/0x1\nmore"


def test_message_strips_prefixes() -> None:
    assert message("[   12.345678] zpfarm: begin x\r") == "zpfarm: begin x"
    assert message("<4>[    1.000000][    T1] BUG: x") == "BUG: x"
    assert message("no prefix") == "no prefix"
