"""Where a series lives, and b4 (and git-pw) to bring it here as a quilt directory.

A source is `msgid:ID`, a lore or patch.msgid.link URL, `mbox:FILE`, `pw:SERIES_ID` or a
directory. The network ones are first saved as one mbox (`b4 mbox`, `git-pw series download`);
every mbox then goes through `b4 --offline-mode am -Q`, which picks the newest revision (or
the one asked for), collects the trailers of the replies (not those quoted with a leading
`| `) and writes the patches and the `series` file.
"""

from __future__ import annotations

import re
import shutil
import sys
import urllib.parse
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from farm.host import proc
from farm.model.errors import InfraError, UserError

B4_TIMEOUT_S = 600
_MSGID = re.compile(r"[!-;=?-~]{1,500}@[!-;=?-~]{1,500}")  # printable, no space or angle brackets
_PW_ID = re.compile(r"[1-9][0-9]{0,11}")
_URL_HOSTS_WITH_MSGID = ("lore.", "patch.msgid.link", "lkml.kernel.org")


class Kind(Enum):
    MSGID = "msgid"
    URL = "url"
    MBOX = "mbox"
    PATCHWORK = "pw"
    DIRECTORY = "directory"

    @property
    def network(self) -> bool:
        return self in (Kind.MSGID, Kind.URL, Kind.PATCHWORK)


@dataclass(frozen=True)
class Source:
    kind: Kind
    value: str  # the Message-ID, the mbox or directory path, or the patchwork series id
    link: str | None = None  # where a person reads the thread, when the source says

    @property
    def path(self) -> Path:
        return Path(self.value)


def parse(text: str) -> Source:
    """A SOURCE as the command line gives it; UserError for one that is none of the kinds."""
    kind, sep, rest = text.partition(":")
    if sep and kind == "msgid":
        msgid = rest.strip().removeprefix("<").removesuffix(">")
        return Source(Kind.MSGID, _checked_msgid(msgid, text), f"https://patch.msgid.link/{msgid}")
    if sep and kind == "mbox":
        return Source(Kind.MBOX, rest)
    if sep and kind == "pw":
        if not _PW_ID.fullmatch(rest):
            raise UserError(f"{text!r}: pw: takes a patchwork series id (a number)")
        return Source(Kind.PATCHWORK, rest)
    if sep and kind in ("http", "https"):
        return Source(Kind.URL, _msgid_of_url(text), text)
    if Path(text).is_dir():
        return Source(Kind.DIRECTORY, text)
    raise UserError(
        f"{text!r}: not a series source: give msgid:ID, a lore or patch.msgid.link URL, mbox:FILE, "
        "pw:SERIES_ID or a series directory"
    )


def _msgid_of_url(url: str) -> str:
    """The Message-ID in a lore (https://lore.../LIST/MSGID/) or patch.msgid.link URL."""
    parts = urllib.parse.urlsplit(url)
    if not any(h in parts.netloc for h in _URL_HOSTS_WITH_MSGID):
        raise UserError(f"{url}: not a lore or patch.msgid.link URL (or give msgid:ID)")
    for part in parts.path.split("/"):
        decoded = urllib.parse.unquote(part)
        if "@" in decoded:
            return _checked_msgid(decoded, url)
    raise UserError(f"{url}: no Message-ID in it (the part with an @)")


def _checked_msgid(msgid: str, where: str) -> str:
    if not _MSGID.fullmatch(msgid):
        raise UserError(f"{where!r}: {msgid!r} is not a Message-ID (printable, one @, no spaces)")
    return msgid


def tool(name: str) -> str:
    """A command installed beside this Python (the venv's b4), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else name


def fetch_argv(source: Source, mbox: Path) -> list[str]:
    """The command that saves a network source's thread as the mbox file `mbox`."""
    if source.kind in (Kind.MSGID, Kind.URL):
        return [tool("b4"), "mbox", "--no-cache", "-o", str(mbox.parent), "-n", mbox.name, source.value]
    if source.kind is Kind.PATCHWORK:
        return [tool("git-pw"), "series", "download", source.value, str(mbox)]
    raise ValueError(f"{source.kind.value}: not a network source")


def fetch(source: Source, mbox: Path, log: Path) -> Path:
    """Save a network source's thread as mbox; InfraError in one line when it cannot be reached."""
    mbox = mbox.resolve()
    argv = fetch_argv(source, mbox)
    if source.kind is Kind.PATCHWORK and shutil.which(argv[0]) is None:
        raise InfraError("pw: needs git-pw (pip install git-pw) with its pw.server and pw.project git config")
    done = proc.run(argv, cwd=mbox.parent, log=log, timeout=B4_TIMEOUT_S)
    if not done.ok or not mbox.is_file() or mbox.stat().st_size == 0:
        why = done.tail(1) or "nothing saved"
        raise InfraError(f"cannot fetch {source.value} ({Path(argv[0]).name} {argv[1]}): {why} (no network?)")
    return mbox


def am_argv(mbox: Path, out: Path, msgid: str | None = None, revision: int | None = None) -> list[str]:
    """`b4 am` of a local mbox, offline, as a quilt directory under out."""
    argv = [tool("b4"), "--offline-mode", "am", "--no-cache", "-Q", "-m", str(mbox), "-o", str(out)]
    if revision is not None:
        argv += ["-v", str(revision)]
    return [*argv, msgid] if msgid else argv


def am(
    mbox: Path, out: Path, log: Path, msgid: str | None = None, revision: int | None = None
) -> tuple[Path, Path | None]:
    """Run b4 am; (the quilt directory it wrote, its cover letter file or None)."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    done = proc.run(am_argv(mbox.resolve(), out, msgid, revision), cwd=out, log=log, timeout=B4_TIMEOUT_S)
    quilts = sorted(p for p in out.glob("*.patches") if p.is_dir())
    if not done.ok or len(quilts) != 1 or not (quilts[0] / "series").is_file():
        raise UserError(f"b4 am found no series in {mbox}: {done.tail(2) or 'no output'}")
    covers = sorted(out.glob("*.cover"))
    return quilts[0], covers[0] if covers else None
