"""The reply mail: golden mails for a regression and a clean run, in the series' thread, 80 columns
outside quoted logs; real b4 applies its Tested-by to every patch and none of its | Reported-by."""

from __future__ import annotations

import dataclasses
import email
import os
import subprocess
import sys
from email import policy
from pathlib import Path

import pytest
import runs
from typer.testing import CliRunner

from cli import app
from farm.model.errors import UserError
from farm.report import decode, findings, reply

DATA = Path(__file__).resolve().parent / "data" / "reply"
SIGNER = "Jane Tester <jane@example.org>"
BLAME = findings.Blame("shmem: map the shared zeropage on read faults of holes", None, "bisect")
runner = CliRunner()


def regression_mail() -> bytes:
    found = findings.find(runs.every_outcome(), [BLAME])
    return reply.as_bytes(reply.render_reply(found, runs.series_info(), SIGNER))


def clean_mail() -> bytes:
    return reply.as_bytes(reply.render_reply(findings.find(runs.clean()), runs.series_info(), SIGNER))


@pytest.mark.parametrize(("name", "make"), [("regression.eml", regression_mail), ("clean.eml", clean_mail)])
def test_the_reply_is_the_golden_mail_and_parses(name: str, make: object) -> None:
    made = make()  # type: ignore[operator]
    if os.environ.get("ZPFARM_UPDATE_GOLDEN"):
        (DATA / name).write_bytes(made)
    assert made == (DATA / name).read_bytes()
    msg = email.message_from_bytes(made, policy=policy.default)
    assert msg.get_content_type() == "text/plain" and not msg.is_multipart()
    assert msg["From"] == SIGNER and msg["Date"] and msg["Message-ID"].startswith("<zpfarm-")
    body = msg.get_content()
    for line in body.splitlines():
        if not line.startswith(("> ", "  zpfarm ")):  # quoted logs and the one-line reproducer stay whole
            assert len(line) <= 80, line


def test_a_regression_answers_the_first_bad_patch_and_a_clean_run_the_cover_letter() -> None:
    bad = email.message_from_bytes(regression_mail(), policy=policy.default)
    patch9 = runs.series_info().patches[8]
    assert bad["In-Reply-To"] == f"<{patch9.message_id}>"
    assert bad["References"] == f"<{runs.COVER_ID}> <{patch9.message_id}>"
    assert bad["Subject"] == f"Re: {patch9.subject}"
    body = bad.get_content()
    assert "| Reported-by: Jane Tester <jane@example.org>" in body
    assert f"| Closes: https://lore.kernel.org/r/{bad['Message-ID'].strip('<>')}/" in body
    assert "\nTested-by:" not in body and "\nReported-by:" not in body
    assert "first bad patch: [9/12] " in body.replace("\n                 ", " ")
    assert "> # pfn 0x1234 is not the zero pfn" in body and "> [   12.345680] RIP: 0010:shmem_fault+0x1a2/0x3c0" in body
    assert "  zpfarm run --matrix matrix.toml --cell series-x86_64-thp-on/default --accel tcg --test zeropage" in body
    good = email.message_from_bytes(clean_mail(), policy=policy.default)
    assert good["In-Reply-To"] == good["References"] == f"<{runs.COVER_ID}>"
    assert "\nTested-by: Jane Tester <jane@example.org>\n" in good.get_content()
    assert "Reported-by" not in good.get_content()


def test_the_ktap_excerpt_keeps_at_most_20_lines() -> None:
    suites = runs.every_outcome()
    case = suites[1].cases[2]
    long = type(case)(case.name, case.status, case.message, "\n".join(f"# line {n}" for n in range(50)))
    suites[1] = type(suites[1])(suites[1].name, (long,), suites[1].properties, "", runs.WHEN, 1.0)
    body = email.message_from_bytes(reply.as_bytes(reply.render_reply(findings.find(suites[:2]), None, SIGNER)))
    quoted = [line for line in body.get_payload().splitlines() if line.startswith("> # line")]
    assert quoted == [f"> # line {n}" for n in range(30, 50)]


def test_a_run_where_something_did_not_run_gets_no_tested_by() -> None:
    suites = [*runs.clean(), runs.every_outcome()[2]]
    body = reply.as_bytes(reply.render_reply(findings.find(suites), runs.series_info(), SIGNER)).decode()
    assert "\nTested-by:" not in body and "Reported-by" not in body and "so this is no Tested-by" in body


@pytest.mark.parametrize("value", [None, "", "jane@example.org", "Jane", "Jane <jane@example.org>\nBcc: x@y.z"])
def test_the_identity_is_configured_never_invented(value: str | None) -> None:
    with pytest.raises(UserError, match="--from"):
        reply.identity(value, "--from")


def test_the_command_refuses_without_an_identity_and_writes_with_one(tmp_path: Path) -> None:
    junit = runs.write(tmp_path / "junit.xml", runs.clean())
    out = tmp_path / "reply.eml"
    env = {"ZPFARM_IDENTITY": ""}
    result = runner.invoke(app, ["report", "email", str(junit), "-o", str(out)], env=env)
    assert result.exit_code == 2 and not out.exists()
    env = {"ZPFARM_IDENTITY": SIGNER}
    result = runner.invoke(app, ["report", "email", str(junit), "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "Tested-by: Jane Tester <jane@example.org>" in out.read_text()


def test_the_console_excerpt_is_decoded_by_the_trees_own_script_when_vmlinux_is_there(tmp_path: Path) -> None:
    tree = tmp_path / "linux"
    (tree / "scripts").mkdir(parents=True)
    script = tree / decode.SCRIPT
    # decode_stacktrace.sh's interface: vmlinux and the tree as arguments, the log on stdin.
    script.write_text(
        '#!/bin/bash\n[ -f "$1" ] && [ -d "$2" ] || exit 1\n'
        'sed "s|^\\(.*+0x[0-9a-f]*/0x[0-9a-f]*\\)$|\\1 mm/shmem.c:42|"\n'
    )
    vmlinux = tmp_path / "vmlinux"
    vmlinux.write_bytes(b"\x7fELF")
    suites = runs.every_outcome()[:2]
    props = dict(suites[1].properties) | {"vmlinux": str(vmlinux), "source_tree": str(tree)}
    suites[1] = type(suites[1])(suites[1].name, suites[1].cases, props, "", runs.WHEN, 1.0)
    mail = reply.render_reply(findings.find(suites), None, SIGNER, decode.stacktrace)
    body = reply.as_bytes(mail).decode()
    assert "console (decoded with scripts/decode_stacktrace.sh):" in body
    assert "> [   12.345680] RIP: 0010:shmem_fault+0x1a2/0x3c0 mm/shmem.c:42" in body
    assert decode.stacktrace(runs.CONSOLE, None, tree) is None  # no vmlinux: left as it is


def b4_am(mbox: Path, out: Path, home: Path) -> str:
    """The patches `b4 --offline-mode am` makes of the thread (one .mbx), as text."""
    b4 = str(Path(sys.executable).parent / "b4")  # the venv's, pinned with zpfarm's test dependencies
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(
        [b4, "--offline-mode", "am", "-m", str(mbox), "-o", str(out), f"<{runs.COVER_ID}>"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (mbx,) = out.glob("*.mbx")
    return mbx.read_text()


def test_b4_applies_the_clean_runs_tested_by_to_every_patch_and_no_reported_by(tmp_path: Path) -> None:
    thread = runs.thread(tmp_path / "thread.mbox")
    alone = b4_am(thread, tmp_path / "alone", tmp_path)
    n = len(runs.patch_files())
    assert alone.count("\nSubject: ") == n and "Tested-by" not in alone
    # Both replies in the thread: a clean run's (to the cover letter) and a failing run's (to patch 9).
    replied = tmp_path / "replied.mbox"
    separator = b"From zpfarm Mon Dec  7 22:54:31 2026\n"
    replied.write_bytes(thread.read_bytes() + separator + clean_mail() + b"\n" + separator + regression_mail() + b"\n")
    applied = b4_am(replied, tmp_path / "replied", tmp_path)
    assert applied.count(f"\nTested-by: {SIGNER}\n") == n
    assert "Reported-by" not in applied and "Closes" not in applied
    assert applied.replace(f"Tested-by: {SIGNER}\n", "") == alone  # nothing else of either reply got in


def test_the_command_answers_the_patch_bisect_names(tmp_path: Path) -> None:
    junit = runs.write(tmp_path / "junit.xml", runs.every_outcome())
    series = tmp_path / "series.json"
    series.write_text(runs.series_info().dump())
    log = tmp_path / "bisect.log"
    log.write_text(
        f"{runs.TIP} is the first bad commit\ncommit {runs.TIP}\nAuthor: A <a@example.org>\nDate:   today\n\n"
        "    shmem: map the shared zeropage on read faults of holes\n"
    )
    out = tmp_path / "reply.eml"
    args = ["report", "email", str(junit), "--series", str(series), "--bisect-log", str(log), "-o", str(out)]
    result = runner.invoke(app, [*args, "--from", SIGNER])
    assert result.exit_code == 0, result.output
    assert "in reply to <v6.12-9@zpfarm.example.org>" in result.output
    assert out.read_bytes() == (DATA / "regression.eml").read_bytes()  # the golden mail, through the command
    log.write_text("nothing found\n")
    assert runner.invoke(app, [*args, "--from", SIGNER]).exit_code == 2


def test_a_series_json_that_would_inject_headers_is_refused_or_defused() -> None:
    info = runs.series_info()
    bad = dataclasses.replace(info, cover_message_id="x@y>\nBcc: victim@example.org")
    with pytest.raises(UserError, match="not a Message-ID"):
        reply.render_reply(findings.find(runs.clean()), bad, SIGNER)
    folded = dataclasses.replace(info, subject="[PATCH] a\nBcc: victim@example.org")
    mail = email.message_from_bytes(reply.as_bytes(reply.render_reply(findings.find(runs.clean()), folded, SIGNER)))
    assert mail["Bcc"] is None and mail["Subject"] == "Re: [PATCH] a Bcc: victim@example.org"


def test_a_subject_series_json_keeps_without_its_tag_gets_the_tag_back() -> None:
    info = runs.series_info()
    untagged = dataclasses.replace(
        info,
        subject="mm/shmem: map the shared zeropage on read faults of holes",
        patches=tuple(dataclasses.replace(p, subject=p.subject.split("] ", 1)[1]) for p in info.patches),
    )
    bad = email.message_from_bytes(
        reply.as_bytes(reply.render_reply(findings.find(runs.every_outcome(), [BLAME]), untagged, SIGNER))
    )
    assert (
        " ".join(bad["Subject"].split())
        == "Re: [PATCH v3 09/12] shmem: map the shared zeropage on read faults of holes"
    )
    good = email.message_from_bytes(reply.as_bytes(reply.render_reply(findings.find(runs.clean()), untagged, SIGNER)))
    assert (
        " ".join(good["Subject"].split())
        == "Re: [PATCH v3 00/12] mm/shmem: map the shared zeropage on read faults of holes"
    )
