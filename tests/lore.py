"""A mailing-list thread as lore serves it, made from a series directory of this repository.

The cover letter gets `base-commit:` and `change-id:` lines, every mail a Message-Id (the
patches In-Reply-To the cover letter), and the thread two replies: a review of patch 8 with
its `Reviewed-by:`, and a 0-day-style report whose trailers are quoted with `| ` (which b4
must not apply).
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import re
from email.message import Message
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
V612 = ROOT / "kernel-series" / "v6.12"
BASE_612 = "042bc9e584a6251822aad5daea20f378471e3308"  # the farm's import of linux-source-6.12 (v6.12.118)
CHANGE_ID = "20261125-shmem-zeropage-9f3c1e0b2a47"
REVIEWER = "Rev Iewer <rev@example.org>"
REPORTER = "kernel test robot <lkp@example.org>"


def cover_id(revision: int) -> str:
    return f"cover.v{revision}.shmem-zeropage@example.org"


def patch_id(revision: int, n: int) -> str:
    return f"{n:02d}.v{revision}.shmem-zeropage@example.org"


def _mail(path: Path) -> Message:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)


def _reply(to: Message, sender: str, body: str, mid: str, cover: str) -> Message:
    reply = Message()
    reply["From"] = sender
    reply["Subject"] = "Re: " + " ".join(str(to["Subject"]).split())
    reply["Date"] = "Tue, 8 Dec 2026 09:00:00 +0000"
    reply["Message-Id"] = f"<{mid}>"
    reply["In-Reply-To"] = str(to["Message-Id"])
    reply["References"] = f"<{cover}> {to['Message-Id']}"
    reply.set_payload(body)
    return reply


def thread(
    mbox: Path,
    series: Path = V612,
    *,
    revision: int = 3,
    base_commit: str | None = BASE_612,
    replies: bool = True,
    edit: dict[int, tuple[str, str]] | None = None,
    footer: str = "",
) -> list[Message]:
    """Append one posting of series (as revision) to mbox; edit: {patch n: (old, new)} changes patch n's text."""
    box = mailbox.mbox(mbox)
    files = [series / "0000-cover-letter.patch", *(series / n for n in _listed(series))]
    posted: list[Message] = []
    cover = cover_id(revision)
    for n, path in enumerate(files):
        text = path.read_text(encoding="utf-8")
        if n in (edit or {}):
            old, new = (edit or {})[n]
            assert old in text, f"{path.name} has no {old!r}"
            text = text.replace(old, new, 1)
        mail = email.message_from_string(text, policy=email.policy.compat32)
        subject = " ".join(str(mail["Subject"]).split())
        del mail["Subject"]
        mail["Subject"] = subject.replace("[PATCH v3", f"[PATCH v{revision}", 1)
        mail["Message-Id"] = f"<{cover if n == 0 else patch_id(revision, n)}>"
        if n == 0:
            lines = (f"base-commit: {base_commit}\n" if base_commit else "") + f"change-id: {CHANGE_ID}\n" + footer
            body = re.sub(
                r"^(base-commit|change-id|prerequisite-patch-id): .*\n", "", str(mail.get_payload()), flags=re.M
            )
            head, sep, tail = body.rpartition("\n-- \n")
            mail.set_payload(f"{head}\n\n{lines}{sep}{tail}" if sep else body + "\n" + lines)
        else:
            mail["In-Reply-To"] = f"<{cover}>"
            mail["References"] = f"<{cover}>"
        posted.append(mail)
    if replies:
        eighth = posted[8]
        posted.append(
            _reply(eighth, REVIEWER, f"Looks right to me.\n\nReviewed-by: {REVIEWER}\n", f"review.{cover}", cover)
        )
        posted.append(
            _reply(
                posted[0],
                REPORTER,
                "Hi,\n\nkernel test robot noticed a build warning.\n\n"
                "If you fix the issue in a separate patch/commit (i.e. not just a new version of\n"
                "the same patch/commit), kindly add following tags\n"
                f"| Reported-by: {REPORTER}\n| Closes: https://example.org/r/202612080900.lkp@example.org/\n",
                f"lkp.{cover}",
                cover,
            )
        )
    for mail in posted:
        box.add(mail)
    box.flush()
    return posted


def _listed(series: Path) -> list[str]:
    names = [line.split("#", 1)[0].strip() for line in (series / "series").read_text().splitlines()]
    return [n for n in names if n and not n.startswith("0000-")]


def two_versions(where: Path) -> tuple[Path, Path]:
    """v1 and v2 of the series posted in one mbox (v2 changes patch 9 and has the replies), imported by version."""
    from farm import seriesimport

    mbox = where / "thread.mbox"
    thread(mbox, revision=1, replies=False)
    line = "+\treturn !mm_forbids_zeropage(vma->vm_mm);"
    thread(mbox, revision=2, edit={9: (line, line.replace("return", "return /* v2 */"))})
    for n in (1, 2):
        seriesimport.import_series(f"mbox:{mbox}", where / f"v{n}", revision=n, notice=lambda _: None)
    return where / "v1", where / "v2"


def directory(where: Path, base_commit: str | None, footer: str = "") -> Path:
    """A copy of kernel-series/v6.12 whose cover letter names another base-commit (or none)."""
    import shutil

    shutil.copytree(V612, where)
    cover = where / "0000-cover-letter.patch"
    text = re.sub(r"^(base-commit|change-id): .*\n", "", cover.read_text(), flags=re.M)
    lines = (f"base-commit: {base_commit}\n" if base_commit else "") + f"change-id: {CHANGE_ID}\n" + footer
    head, sep, tail = text.rpartition("\n-- \n")
    cover.write_text(f"{head}\n{lines}{sep}{tail}")
    return where
