"""series.json: the same value gives the same bytes, and a hostile file is refused by field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from farm.model.errors import UserError
from farm.model.seriesinfo import PatchInfo, SeriesInfo, load, loads

PATCH_ID = "0123456789abcdef0123456789abcdef01234567"
INFO = SeriesInfo(
    subject="mm/shmem: map the shared zero page for read faults of holes",
    revision=2,
    change_id="20261201-shmem-zero-page-abc123",
    base_commit="a" * 40,
    cover_message_id="cover.v2@example.org",
    link=None,
    prerequisite_patch_ids=(),
    patches=(
        PatchInfo(
            file="0001-mm-shmem-one.patch",
            subject="mm/shmem: one",
            message_id="1.v2@example.org",
            patch_id=PATCH_ID,
            trailers=(("Reviewed-by", "A Reviewer <r@example.org>"),),
        ),
    ),
)


def test_a_series_json_reads_back_as_the_value_it_was_dumped_from(tmp_path: Path) -> None:
    (tmp_path / "series.json").write_text(INFO.dump())
    assert load(tmp_path / "series.json") == INFO
    assert loads(INFO.dump()).dump() == INFO.dump()
    assert list(json.loads(INFO.dump())) == sorted(json.loads(INFO.dump()))
    assert INFO.patch(PATCH_ID) == INFO.patches[0] and INFO.patch("f" * 40) is None


def _with(change: dict[str, object], patch: dict[str, object] | None = None) -> str:
    data = json.loads(INFO.dump())
    data["patches"][0].update(patch or {})
    data.update(change)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[]", "not a JSON object"),
        ("{", "not JSON"),
        (_with({"schema": 2}), "schema"),
        (_with({"revision": 0}), "revision"),
        (_with({"revision": True}), "revision"),
        (_with({"extra": 1}), "unknown key 'extra'"),
        (_with({"patches": []}), "patches"),
        (_with({"base_commit": "main; rm -rf /"}), "base_commit"),
        (_with({"cover_message_id": "a@b>\r\nBcc: x@y"}), "cover_message_id"),
        (_with({"subject": "two\nlines"}), "subject"),
        (_with({"prerequisite_patch_ids": ["xyz"]}), "prerequisite_patch_ids[0]"),
        (_with({}, {"file": "../../etc/passwd.patch"}), "patches[0]: file"),
        (_with({}, {"patch_id": "ABC"}), "patches[0]: patch_id"),
        (_with({}, {"trailers": [["Reviewed by", "x"]]}), "patches[0]: trailers[0]: name"),
        (_with({}, {"trailers": [["Acked-by"]]}), "patches[0]: trailers[0]"),
    ],
)
def test_a_bad_series_json_is_refused_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(UserError, match=field.replace("[", r"\[").replace("]", r"\]")):
        loads(text)


def test_an_unreadable_series_json_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "series.json").write_bytes(b"\xff\xfe")
    with pytest.raises(UserError, match="cannot read"):
        load(tmp_path / "series.json")
