"""What a series directory says of its posting: the SeriesInfo of series.json.

Read from the files themselves (the cover letter's subject, Message-ID, `base-commit:`,
`change-id:` and `prerequisite-patch-id:` lines; each patch's subject, trailers and
`git patch-id --stable`), and, for patches whose file has no Message-ID (b4's quilt output
has none), from the thread they were posted in, matched by patch-id.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import re
import tempfile
from collections.abc import Mapping
from email.message import Message
from pathlib import Path

from farm.host import proc
from farm.kernel import patchid, series
from farm.model.errors import UserError
from farm.model.seriesinfo import PatchInfo, SeriesInfo

COVER_PREFIX = "0000-"  # the cover letter's file; series.load skips it
_PREFIX = re.compile(r"^\s*(\[[^\]]*\]\s*)+")  # "[PATCH v3 2/12] " and "[RFC] [PATCH] "
_REVISION = re.compile(r"\[[^\]]*?\bv(\d{1,3})\b[^\]]*\]", re.IGNORECASE)
_FIELD = re.compile(r"^(base-commit|change-id|prerequisite-patch-id): *(\S+) *$", re.MULTILINE)
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
_MAX_THREAD = 5000  # messages read from a thread: a whole list archive is not a thread


def describe(directory: Path, thread: Path | None = None, link: str | None = None) -> SeriesInfo:
    """The SeriesInfo of a series directory; thread: the mbox it came from, for Message-IDs."""
    loaded = series.load(directory)
    covers = sorted(directory.glob(f"{COVER_PREFIX}*.patch"))
    cover = _read(covers[0]) if covers else None
    mails = [_read(p) for p in loaded.patches]
    ids = [patchid.of(p) for p in loaded.patches]
    posted = _thread_ids(thread) if thread else {}
    first = cover if cover is not None else mails[0]
    version = revision(first.get("Subject", ""))
    # Without a cover letter, `git format-patch --base` puts base-commit: in the patches.
    fields = _fields([m for m in (cover, *mails) if m is not None])
    return SeriesInfo(
        subject=subject(first),
        revision=version,
        change_id=_one(fields, "change-id"),
        base_commit=_one(fields, "base-commit"),
        cover_message_id=message_id(cover) if cover is not None else None,
        link=link,
        prerequisite_patch_ids=tuple(fields.get("prerequisite-patch-id", [])),
        patches=tuple(
            PatchInfo(
                file=p.name,
                subject=subject(m),
                message_id=message_id(m) or _posted(posted.get(pid, []), version),
                patch_id=pid,
                trailers=trailers(p),
            )
            for p, m, pid in zip(loaded.patches, mails, ids, strict=True)
        ),
    )


def subject(mail: Message) -> str:
    """The subject without its "[PATCH v2 3/11]" prefix, unfolded."""
    text = " ".join(str(mail.get("Subject", "")).split())
    return _PREFIX.sub("", text) or text


def revision(subject_line: str) -> int:
    """The "v3" of "[PATCH v3 0/12]"; 1 without one."""
    found = _REVISION.search(" ".join(subject_line.split()))
    return int(found.group(1)) if found and int(found.group(1)) > 0 else 1


def message_id(mail: Message) -> str | None:
    """The Message-ID without its angle brackets, if the mail has one."""
    found = _MESSAGE_ID.search(str(mail.get("Message-Id", "")))
    return found.group(1) if found else None


def trailers(patch: Path) -> tuple[tuple[str, str], ...]:
    """The trailers of a patch's commit message, in order, as git reads them."""
    done = proc.run(["git", "interpret-trailers", "--parse"], stdin=patch, timeout=60)
    if not done.ok:
        raise UserError(f"{patch}: git interpret-trailers cannot read it: {done.tail(1)}")
    found = []
    for line in done.output.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            found.append((name.strip(), value.strip()))
    return tuple(found)


def _read(path: Path) -> Message:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)


def _body(mail: Message) -> str:
    payload = mail.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(mail.get_payload())


def _fields(mails: list[Message]) -> dict[str, list[str]]:
    """base-commit:, change-id: and prerequisite-patch-id: lines, from the first mail that has each."""
    found: dict[str, list[str]] = {}
    for mail in mails:
        here: dict[str, list[str]] = {}
        for name, value in _FIELD.findall(_body(mail)):
            here.setdefault(name, []).append(value)
        for name, values in here.items():
            found.setdefault(name, values)
    return found


def _one(fields: Mapping[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


def _posted(candidates: list[tuple[int, str]], version: int) -> str | None:
    """The Message-ID of the posting of this revision (a thread may hold v1 and v2 of a patch)."""
    return next((mid for rev, mid in candidates if rev == version), candidates[0][1] if candidates else None)


def _thread_ids(thread: Path) -> dict[str, list[tuple[int, str]]]:
    """patch-id -> (revision, Message-ID) of each message of the thread that carries a diff, in order."""
    found: dict[str, list[tuple[int, str]]] = {}
    box = mailbox.mbox(thread, create=False)
    with tempfile.TemporaryDirectory(prefix="zpfarm-thread-") as tmp:
        one = Path(tmp) / "message"
        for n, mail in enumerate(box):
            if n >= _MAX_THREAD:
                raise UserError(f"{thread}: over {_MAX_THREAD} messages: give the series' thread, not an archive")
            raw = mail.as_bytes()
            mid = message_id(mail)
            if mid is None or b"\ndiff --git " not in raw:
                continue
            one.write_bytes(raw)
            try:
                found.setdefault(patchid.of(one), []).append((revision(str(mail.get("Subject", ""))), mid))
            except UserError:
                continue
    return found
