"""Known issues that cannot rot: scope, intermittent, reason, url, expiry, [[console_ignore]] (farm.judge.known)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from farm.judge import expect, ktap, verdict
from farm.judge.known import Where
from farm.model.errors import UserError
from farm.model.results import Booted, Status

ROOT = Path(__file__).parent.parent
TODAY = date(2026, 12, 8)
UFFD_ANON = (
    "KTAP version 1\n1..1\n    # Subtest: uffd\n    1..1\n    # UFFDIO_COPY error: -2\n"
    "    not ok 1 events on anon\nnot ok 1 uffd\n"
)
ARM64_FLAKE = """
[[expect]]
match = "uffd.events on anon"
intermittent = true
arches = ["arm64"]
reason = "UFFDIO_COPY error: -2 under TCG, on base and series alike"
url = "https://example.org/zpfarm/issues/22"
expires = 2027-03-01
"""


def known_issues(tmp_path: Path, text: str, today: date = TODAY) -> expect.Known:
    path = tmp_path / "expectations.toml"
    path.write_text(text)
    return expect.load_known(path, today)


def where(arch: str) -> Where:
    return Where(f"base-{arch}-thp-off", arch, "default", "v6.12.117", "v6.12", "tcg")


def judged(known: expect.Known, arch: str, kernel: str = "base") -> Status:
    scoped = known.at(where(arch)).expect
    (case,) = expect.evaluate(ktap.parse(UFFD_ANON), kernel, scoped)
    return case.status


def test_an_intermittent_issue_scoped_to_arm64_is_an_xfail_there_and_a_failure_on_x86_64(tmp_path: Path) -> None:
    known = known_issues(tmp_path, ARM64_FLAKE)
    assert judged(known, "arm64") is Status.XFAIL
    assert judged(known, "arm64", "series") is Status.XFAIL  # either kernel
    assert judged(known, "x86_64") is Status.FAIL
    (case,) = expect.evaluate(ktap.parse(UFFD_ANON), "base", known.at(where("arm64")).expect)
    assert case.intermittent and "known intermittent: UFFDIO_COPY error: -2 under TCG" in case.message
    assert "https://example.org/zpfarm/issues/22" in case.message and "this time: UFFDIO_COPY error: -2" in case.message
    passing = ktap.parse(UFFD_ANON.replace("not ok", "ok"))
    (passed,) = expect.evaluate(passing, "base", known.at(where("arm64")).expect)
    assert passed.status is Status.PASS and passed.intermittent  # a pass, never "unexpectedly passed"


def test_an_expired_entry_is_bad_input_naming_the_file_and_the_entry(tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        known_issues(tmp_path, ARM64_FLAKE, today=date(2027, 3, 2))
    assert str(caught.value) == (
        "expectations.toml: [[expect]] #1 (match 'uffd.events on anon'): expired on 2027-03-01:"
        " check it again, then renew or remove it"
    )
    known_issues(tmp_path, ARM64_FLAKE, today=date(2027, 3, 1))  # the last day still holds


def test_an_expired_entry_stops_a_run_before_anything_starts(tmp_path: Path) -> None:
    from test_pipeline import write_matrix

    from farm import pipeline
    from farm.host.cache import Cache

    m = write_matrix(tmp_path)
    (tmp_path / "testcases" / "expectations.toml").write_text(ARM64_FLAKE.replace("2027-03-01", "2026-01-01"))
    with pytest.raises(UserError, match=r"expectations\.toml: \[\[expect\]\] #1 .*expired on 2026-01-01"):
        pipeline.options(m, m.cells, Cache(tmp_path / "c"), tmp_path / "out", tmp_path / "junit.xml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ARM64_FLAKE.replace("expires = 2027-03-01", 'expires = "soon"'), "'expires' must be a TOML date"),
        (ARM64_FLAKE.replace('arches = ["arm64"]', "arches = [1]"), "'arches' must be a pattern or an array"),
        (ARM64_FLAKE.replace("https://example.org/zpfarm/issues/22", "issue 22"), "'url' must be a link"),
        (ARM64_FLAKE.replace("intermittent = true", 'intermittent = "yes"'), "'intermittent' must be true or false"),
        (ARM64_FLAKE.replace("intermittent = true", "why = 'x'"), "give 'reason' or 'why', not both"),
        (ARM64_FLAKE.replace("intermittent = true\n", ""), "missing key 'base'"),  # not intermittent: say both
        ('[[console_ignore]]\nregex = "("\nreason = "r"\n', "[[console_ignore]] #1: 'regex' '(': missing )"),
        ('[[console_ignore]]\nregex = "x"\n', "[[console_ignore]] #1: 'reason' must be a non-empty string"),
    ],
)
def test_bad_known_issues_are_bad_input(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UserError) as caught:
        known_issues(tmp_path, text)
    assert message in str(caught.value)


CONSOLE = (
    "Linux version 6.12.117\nzpfarm: begin memory\n"
    "[    3.681437] WARNING: CPU: 0 PID: 1 at drivers/virtio/virtio_ring.c:2412 vring_map+0x1c/0x40\n"
    "[    3.681500] ---[ end trace 0000000000000000 ]---\nzpfarm: end memory\nreboot: Power down\n"
)


def test_a_console_report_known_to_come_from_elsewhere_is_an_xfail_saying_why(tmp_path: Path) -> None:
    known = known_issues(
        tmp_path,
        '[[console_ignore]]\nregex = "at drivers/virtio/virtio_ring\\\\.c"\nreason = "QEMU virtio quirk"\n'
        'url = "https://example.org/q/1"\nexpires = 2027-02-01\naccel = "tcg"\n',
    )
    booted = Booted(0, 1.0, False, True, "KTAP version 1\n1..0\n", Path("console.log"))
    on_tcg = known.at(where("x86_64"))
    (case,) = verdict.judge(booted, CONSOLE, "base", [], (), on_tcg.console_ignore)
    assert case.name == "memory.console" and case.status is Status.XFAIL
    assert case.message.startswith("known console report: QEMU virtio quirk (https://example.org/q/1): WARNING")
    on_kvm = known.at(Where("base-x86_64-thp-off", "x86_64", "default", "v6.12.117", "v6.12", "kvm"))
    assert on_kvm.console_ignore == ()
    (case,) = verdict.judge(booted, CONSOLE, "base", [], (), on_kvm.console_ignore)
    assert case.status is Status.CRASH  # out of its scope, a report is a crash


def test_the_real_file_loads_and_its_flakes_say_why_and_expire() -> None:
    known = expect.load_known(ROOT / "testcases" / "expectations.toml")
    flakes = [e for e in known.expect if e.intermittent]
    assert flakes, "the flakes the runs measured on base and series alike"
    for e in flakes:
        assert e.expires is not None and "base" in e.why and "series" in e.why
