"""Runs as zpfarm's JUnit writer leaves them, small, for the reports that leave the farm.

every_outcome(): base and series of x86_64 with a pass, a fail, an xfail, a
crash on the console, a skip, an infrastructure failure in a second runtime,
an arm64 series kernel that does not build, and the series on another base
where patch 3 does not apply. clean(): the same cells where nothing broke.
The thread: kernel-series/v6.12 as posted, with Message-Ids and a cover letter.
"""

from __future__ import annotations

import email
import mailbox
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from farm.judge.expect import Expectation, Outcome
from farm.model.results import Status, Suite, TestResult
from farm.model.seriesinfo import PatchInfo, SeriesInfo
from farm.report import junit

ROOT = Path(__file__).resolve().parent.parent
SERIES = ROOT / "kernel-series" / "v6.12"
WHEN = datetime(2026, 12, 7, 22, 54, 31, tzinfo=UTC)
BASE_COMMIT = "f49b537356df1db5d67fd2f13709d12256703c03"
TIP = "0123456789abcdef0123456789abcdef01234567"
SERIES_HASH = "fa6249c01a3430dc00b2852e8f5b83e4b4567d11527cf76276ea2ebf0398ff97"
COVER_ID = "v6.12-0@zpfarm.example.org"
KNOWN = (
    Expectation(
        "memory.read_hole_blocks[[]*",
        Outcome.FAIL,
        Outcome.PASS,
        "base allocates a page per read fault of a hole",
    ),
)
XFAIL_MESSAGE = "known to fail on base: base allocates a page per read fault of a hole; blocks_delta_kb=65536"
CONSOLE = """\
[   12.345678] BUG: unable to handle page fault for address: ffff888000000000
[   12.345679] #PF: supervisor write access in kernel mode
[   12.345680] RIP: 0010:shmem_fault+0x1a2/0x3c0
[   12.345681] Call Trace:
[   12.345682]  <TASK>
[   12.345683]  __do_fault+0x3b/0x140
[   12.345684]  do_read_fault+0x11e/0x1f0
[   12.345685]  </TASK>"""


def props(cell: str, kernel: str, runtime: str = "default", **extra: str) -> dict[str, str]:
    arch = "arm64" if "arm64" in cell else "x86_64"
    kconfig = "thp-off" if cell.endswith("thp-off") else "thp-on"
    found = {
        "arch": arch,
        "kconfig": kconfig,
        "kernel": kernel,
        "base": "v7.3.4",
        "base_line": "v7.3",
        "tarball_sha256": "76df1affb19f24926949369be1d74b60071c963c598ce8780bddd4bbf0fc3bc4",
        "zpfarm": "0.1.0 (7c292e3db959)",
        "compiler": "gcc (Debian 12.2.0-14+deb12u1) 12.2.0",
        "commit": BASE_COMMIT if kernel == "base" else TIP,
        "kernel_release": "7.3.4+",
        "build_seconds": "312.5",
        "config_fragments": f"base-{arch}.config, {kconfig}.config",
        "config_sha256": "9f" * 32,
        "accel": "tcg",
        "runtime": runtime,
        "reproducer": f"zpfarm run --matrix matrix.toml --cell {cell}/{runtime} --accel tcg",
    }
    if kernel == "series":
        found["series_hash"] = SERIES_HASH
    return found | extra


def suite(name: str, cases: Sequence[TestResult], kernel: str, **extra: str) -> Suite:
    cell, runtime = name.split("/")
    return Suite(name, tuple(cases), props(cell, kernel, runtime, **extra), "", WHEN, 60.0)


def clean() -> list[Suite]:
    base = [
        TestResult("coherence.read_then_write[memfd,private]", Status.PASS, elapsed=0.5),
        TestResult(
            "memory.read_hole_blocks[memfd,private]",
            Status.XFAIL,
            XFAIL_MESSAGE,
            "# metric: blocks_delta_kb=65536",
            metrics={"blocks_delta_kb": 65536.0},
        ),
        TestResult("zeropage.read_hole_maps_zero_pfn[tmpfs,shared]", Status.PASS, elapsed=0.25),
        TestResult("selftests-mm-cow.Basic COW after fork() with base page", Status.SKIP, "no THP here"),
    ]
    series = [
        base[0],
        TestResult(
            "memory.read_hole_blocks[memfd,private]",
            Status.PASS,
            output="# metric: blocks_delta_kb=0",
            metrics={"blocks_delta_kb": 0.0},
        ),
        base[2],
        base[3],
    ]
    return [
        suite("base-x86_64-thp-on/default", base, "base"),
        suite("series-x86_64-thp-on/default", series, "series"),
    ]


def every_outcome() -> list[Suite]:
    base, series = clean()
    failing = (
        series.cases[0],
        series.cases[1],
        TestResult(
            "zeropage.read_hole_maps_zero_pfn[tmpfs,shared]",
            Status.FAIL,
            "pfn 0x1234 is not the zero pfn",
            "# reading 16 pages of a hole\n# page 0: pfn 0x1234\n# pfn 0x1234 is not the zero pfn",
            elapsed=0.3,
        ),
        TestResult("zeropage.console", Status.CRASH, "BUG (console line 812)", CONSOLE),
        series.cases[3],
    )
    return [
        base,
        Suite(series.name, failing, series.properties, "", WHEN, 60.0),
        suite(
            "series-x86_64-thp-on/shmem-always",
            [
                TestResult(
                    "boot",
                    Status.INFRA,
                    "qemu was killed from outside (vng exit 143)",
                    "qemu-system-x86_64: terminating on signal 15",
                )
            ],
            "series",
        ),
        suite(
            "series-arm64-thp-on/default",
            [TestResult("build", Status.BUILD, "make exited 2", "mm/shmem.c:123:5: error: 'zp' undeclared")],
            "series",
            build_seconds="40.0",
        ),
        Suite(
            "series-x86_64-thp-off/default",
            (
                TestResult(
                    "build",
                    Status.INPUT,
                    "0003-mm-gup.patch does not apply to v7.2.9: mm/gup.c:2412",
                    "error: patch failed: mm/gup.c:2412",
                ),
            ),
            {
                k: v
                for k, v in props("series-x86_64-thp-off", "series", base="v7.2.9").items()
                if k not in ("commit", "series_hash", "config_sha256")
            },
            "",
            WHEN,
            0.0,
        ),
    ]


def write(path: Path, suites: Sequence[Suite]) -> Path:
    junit.write(path, suites)
    return path


def patch_files() -> list[str]:
    return [line for line in (SERIES / "series").read_text().split() if line.endswith(".patch")]


def thread(path: Path) -> Path:
    """kernel-series/v6.12 as an mbox thread: the cover letter, each patch in reply to it."""
    box = mailbox.mbox(str(path))
    for n, name in enumerate(["0000-cover-letter.patch", *patch_files()]):
        msg = email.message_from_bytes((SERIES / name).read_bytes())
        msg["Message-Id"] = f"<v6.12-{n}@zpfarm.example.org>"
        msg["To"] = "linux-mm@kvack.org"
        if n:
            msg["In-Reply-To"] = msg["References"] = f"<{COVER_ID}>"
        box.add(mailbox.mboxMessage(msg))
    box.flush()
    box.close()
    return path


def series_info() -> SeriesInfo:
    """series.json of the thread (patch-ids from git patch-id --stable of the repo's files)."""
    names = patch_files()
    ids = (
        subprocess.run(
            ["git", "patch-id", "--stable"],
            input=b"".join((SERIES / n).read_bytes() for n in names),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split()[::2]
    )
    patches = tuple(
        PatchInfo(name, _subject(SERIES / name), f"v6.12-{n}@zpfarm.example.org", pid)
        for n, (name, pid) in enumerate(zip(names, ids, strict=True), 1)
    )
    return SeriesInfo(
        subject=_subject(SERIES / "0000-cover-letter.patch"),
        revision=3,
        change_id="20261207-shmem-zeropage-6.12",
        base_commit=None,
        cover_message_id=COVER_ID,
        link=f"https://patch.msgid.link/{COVER_ID}",
        prerequisite_patch_ids=(),
        patches=patches,
    )


def _subject(path: Path) -> str:
    return " ".join(str(email.message_from_bytes(path.read_bytes())["Subject"]).split())
