"""Series sources as the command line spells them, and the b4 and git-pw command lines they become."""

from __future__ import annotations

from pathlib import Path

import pytest

from farm.kernel import b4
from farm.model.errors import UserError


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("msgid:<cover.v2@example.org>", b4.Kind.MSGID, "cover.v2@example.org"),
        ("https://lore.kernel.org/linux-mm/cover.v2@example.org/", b4.Kind.URL, "cover.v2@example.org"),
        ("https://lore.kernel.org/all/cover.v2%40example.org/T/#t", b4.Kind.URL, "cover.v2@example.org"),
        ("https://patch.msgid.link/cover.v2@example.org", b4.Kind.URL, "cover.v2@example.org"),
        ("pw:123456", b4.Kind.PATCHWORK, "123456"),
        ("mbox:thread.mbox", b4.Kind.MBOX, "thread.mbox"),
    ],
)
def test_sources_are_read_from_their_spelling(text: str, kind: b4.Kind, value: str) -> None:
    source = b4.parse(text)
    assert (source.kind, source.value) == (kind, value)


@pytest.mark.parametrize(
    "text", ["pw:12; rm", "msgid:no-at-sign", "msgid:a b@c", "https://example.org/x@y", "nowhere", "ftp:x"]
)
def test_a_source_that_is_none_of_the_kinds_is_bad_input(text: str) -> None:
    with pytest.raises(UserError):
        b4.parse(text)


def test_network_sources_are_fetched_as_one_mbox_then_applied_offline(tmp_path: Path) -> None:
    mbox = tmp_path / "thread.mbox"
    fetch = b4.fetch_argv(b4.parse("https://lore.kernel.org/linux-mm/c@example.org/"), mbox)
    assert fetch[1:] == ["mbox", "--no-cache", "-o", str(tmp_path), "-n", "thread.mbox", "c@example.org"]
    assert b4.fetch_argv(b4.parse("pw:42"), mbox)[1:] == ["series", "download", "42", str(mbox)]
    am = b4.am_argv(mbox, tmp_path / "am", "c@example.org", 2)
    wanted = ["--offline-mode", "am", "--no-cache", "-Q", "-m", str(mbox), "-o", str(tmp_path / "am")]
    assert am[1:] == [*wanted, "-v", "2", "c@example.org"]
