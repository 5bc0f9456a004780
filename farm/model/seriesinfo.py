"""series.json: what a series directory knows of its posting (pure apart from reading the file).

It sits beside the `series` file. `zpfarm series import` writes it from a mailing-list thread
(b4's view of it), and the reporting commands read it to answer in that thread. The file may
come from another CI job, so every field is checked: a Message-ID or trailer ends up in a mail
header, and a patch file name ends up in a path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from farm.model.errors import UserError

SCHEMA = 1
_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,200}\.patch")  # a plain name in the directory
_PATCH_ID = re.compile(r"[0-9a-f]{40}")  # git patch-id --stable
_COMMIT = re.compile(r"[0-9a-f]{7,64}")  # base-commit: an object name, sha1 or sha256
_TRAILER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")  # "Reviewed-by"
_LINE_MAX = 998  # RFC 5322: a header line is at most 998 characters
_KEYS = {
    "schema",
    "subject",
    "revision",
    "change_id",
    "base_commit",
    "cover_message_id",
    "link",
    "prerequisite_patch_ids",
    "patches",
}
_PATCH_KEYS = {"file", "subject", "message_id", "patch_id", "trailers"}


@dataclass(frozen=True)
class PatchInfo:
    """One patch of the series as posted: its file, mail and `git patch-id --stable`."""

    file: str  # "0001-mm-shmem-....patch", a name in the series directory
    subject: str  # without the "[PATCH v2 1/11]" prefix
    message_id: str | None  # without the angle brackets
    patch_id: str
    trailers: tuple[tuple[str, str], ...] = ()  # ("Reviewed-by", "A Person <a@example.org>"), in order


@dataclass(frozen=True)
class SeriesInfo:
    """A posted series: its cover letter's identity, its base, and its patches in order."""

    subject: str
    revision: int  # the "v2" of "[PATCH v2 0/11]"; 1 without one
    change_id: str | None  # b4's change-id: the same across revisions
    base_commit: str | None  # the cover letter's base-commit:
    cover_message_id: str | None  # without the angle brackets
    link: str | None  # where the thread is read (a lore URL), if known
    prerequisite_patch_ids: tuple[str, ...]
    patches: tuple[PatchInfo, ...]
    schema: int = SCHEMA

    def dump(self) -> str:
        """The JSON text: sorted keys, two-space indent, a final newline (the same value, the same bytes)."""
        data = {
            "schema": self.schema,
            "subject": self.subject,
            "revision": self.revision,
            "change_id": self.change_id,
            "base_commit": self.base_commit,
            "cover_message_id": self.cover_message_id,
            "link": self.link,
            "prerequisite_patch_ids": list(self.prerequisite_patch_ids),
            "patches": [
                {
                    "file": p.file,
                    "subject": p.subject,
                    "message_id": p.message_id,
                    "patch_id": p.patch_id,
                    "trailers": [list(t) for t in p.trailers],
                }
                for p in self.patches
            ],
        }
        return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    def patch(self, patch_id: str) -> PatchInfo | None:
        """The patch with that patch-id, if the series has it."""
        return next((p for p in self.patches if p.patch_id == patch_id), None)


def load(path: Path) -> SeriesInfo:
    """Read and check a series.json; a mistake is a UserError naming the file and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read: {e}") from None
    return loads(text, str(path))


def loads(text: str, where: str = "series.json") -> SeriesInfo:
    """Check the JSON text of a series.json (`where` names it in errors)."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise UserError(f"{where}: not JSON: {e}") from None
    if not isinstance(data, dict):
        raise UserError(f"{where}: not a JSON object")
    _keys(data, _KEYS, where)
    if data.get("schema") != SCHEMA:
        raise UserError(f"{where}: schema: {data.get('schema')!r}, this zpfarm reads {SCHEMA}")
    revision = data.get("revision")
    if type(revision) is not int or not 1 <= revision <= 999:
        raise UserError(f"{where}: revision: {revision!r} is not a number from 1 to 999")
    prereqs = data.get("prerequisite_patch_ids")
    if not isinstance(prereqs, list):
        raise UserError(f"{where}: prerequisite_patch_ids: not a list")
    patches = data.get("patches")
    if not isinstance(patches, list) or not patches:
        raise UserError(f"{where}: patches: not a non-empty list")
    parsed = tuple(_patch(p, f"{where}: patches[{i}]") for i, p in enumerate(patches))
    files = [p.file for p in parsed]
    if len(set(files)) != len(files):
        raise UserError(f"{where}: patches: a file is listed twice")
    return SeriesInfo(
        subject=_text(data.get("subject"), f"{where}: subject"),
        revision=revision,
        change_id=_optional(data.get("change_id"), f"{where}: change_id"),
        base_commit=None
        if (base := data.get("base_commit")) is None
        else _matching(base, _COMMIT, f"{where}: base_commit"),
        cover_message_id=_message_id(data.get("cover_message_id"), f"{where}: cover_message_id"),
        link=_optional(data.get("link"), f"{where}: link"),
        prerequisite_patch_ids=tuple(
            _matching(p, _PATCH_ID, f"{where}: prerequisite_patch_ids[{i}]") for i, p in enumerate(prereqs)
        ),
        patches=parsed,
    )


def _patch(data: Any, where: str) -> PatchInfo:
    if not isinstance(data, dict):
        raise UserError(f"{where}: not a JSON object")
    _keys(data, _PATCH_KEYS, where)
    trailers = data.get("trailers")
    if not isinstance(trailers, list):
        raise UserError(f"{where}: trailers: not a list")
    return PatchInfo(
        file=_matching(data.get("file"), _FILE, f"{where}: file"),
        subject=_text(data.get("subject"), f"{where}: subject"),
        message_id=_message_id(data.get("message_id"), f"{where}: message_id"),
        patch_id=_matching(data.get("patch_id"), _PATCH_ID, f"{where}: patch_id"),
        trailers=tuple(_trailer(t, f"{where}: trailers[{i}]") for i, t in enumerate(trailers)),
    )


def _trailer(data: Any, where: str) -> tuple[str, str]:
    if not isinstance(data, list) or len(data) != 2:
        raise UserError(f"{where}: not a [name, value] pair")
    return _matching(data[0], _TRAILER, f"{where}: name"), _text(data[1], f"{where}: value")


def _keys(data: dict[str, Any], known: set[str], where: str) -> None:
    if missing := sorted(known - data.keys()):
        raise UserError(f"{where}: missing {', '.join(missing)}")
    if unknown := sorted(data.keys() - known):
        raise UserError(f"{where}: unknown key {', '.join(map(repr, unknown))}")


def _text(value: Any, where: str) -> str:
    """One line of text that can go into a mail header: no control characters, not too long."""
    if not isinstance(value, str):
        raise UserError(f"{where}: not a string")
    if len(value) > _LINE_MAX or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise UserError(f"{where}: not one line of at most {_LINE_MAX} printable characters")
    return value


def _optional(value: Any, where: str) -> str | None:
    return None if value is None else _text(value, where)


def _message_id(value: Any, where: str) -> str | None:
    """A Message-ID without its angle brackets: printable ASCII, no space, no brackets."""
    if value is None:
        return None
    text = _text(value, where)
    if not text or not all(33 <= ord(c) <= 126 for c in text) or "<" in text or ">" in text:
        raise UserError(f"{where}: {text!r} is not a Message-ID (without its angle brackets)")
    return text


def _matching(value: Any, pattern: re.Pattern[str], where: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise UserError(f"{where}: {value!r} is not valid")
    return value
